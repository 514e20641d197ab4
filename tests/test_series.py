"""engine/series.py: views() in (source, metric) order, rebuilt only when a point came in."""

from engine.series import SeriesBuffers


def test_views_are_sorted_and_follow_new_points_and_new_series() -> None:
    buffers = SeriesBuffers(capacity=3)
    buffers.append("b", "x", 1.0, 1.0)
    buffers.append("a", "y", 1.0, 2.0)
    first = buffers.views()
    assert [(v.source, v.metric) for v in first] == [("a", "y"), ("b", "x")]
    assert buffers.views() is first  # no point since: the same tuple
    buffers.append("a", "y", 2.0, 3.0)
    second = buffers.views()
    assert second[0].values == (2.0, 3.0) and second[1] is first[1]  # only the changed series is rebuilt
    buffers.append("a", "a", 2.0, 4.0)  # a new series lands in its sorted place
    assert [(v.source, v.metric) for v in buffers.views()] == [("a", "a"), ("a", "y"), ("b", "x")]
    for t in range(5):
        buffers.append("b", "x", 10.0 + t, float(t))
    assert buffers.views()[2].values == (2.0, 3.0, 4.0)  # capacity kept
