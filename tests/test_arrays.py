import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sweep.mechanism.arrays import distinct_rows


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 3).flatmap(
        lambda n_cols: st.lists(
            st.tuples(*[st.sampled_from([-1.5, 0.0, 0.25, 3.0, 7.0])] * max(n_cols, 1)),
            max_size=40,
        )
    )
)
def test_distinct_rows_equals_numpy_unique_by_rows(rows):
    width = len(rows[0]) if rows else 2
    table = np.array(rows, dtype=float).reshape(-1, width)
    columns, inverse = distinct_rows(*table.T)
    expected, expected_inverse = np.unique(table, axis=0, return_inverse=True)
    np.testing.assert_array_equal(np.stack(columns, axis=1).reshape(-1, width), expected)
    np.testing.assert_array_equal(inverse, expected_inverse.reshape(-1))
    assert inverse.dtype == np.int64


def test_distinct_rows_of_integer_columns_keep_their_dtype():
    columns, inverse = distinct_rows(np.array([3, 1, 3, 1]), np.array([0, 2, 0, 5]))
    assert [c.dtype for c in columns] == [np.dtype(int), np.dtype(int)]
    assert [c.tolist() for c in columns] == [[1, 1, 3], [2, 5, 0]]
    assert inverse.tolist() == [2, 0, 2, 1]
