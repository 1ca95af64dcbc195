"""Geofences for the delivery app: polygons in a local planar frame (metres east/north of the depot)."""

from __future__ import annotations

import math
from dataclasses import dataclass

Point = tuple[float, float]


@dataclass(frozen=True)
class Fence:
    name: str
    vertices: tuple[Point, ...]  # in order, clockwise or counter-clockwise, not closed

    def __post_init__(self) -> None:
        if len(self.vertices) < 3:
            raise ValueError(f"fence {self.name} needs at least three vertices")


def area(fence: Fence) -> float:
    """Area of the fence in square metres (shoelace formula), whatever the vertex order."""
    pts = fence.vertices
    total = 0.0
    for i in range(len(pts)):
        x1, y1 = pts[i]
        x2, y2 = pts[(i + 1) % len(pts)]
        total += x1 * y2 - x2 * y1
    return total / 2


def contains(fence: Fence, p: Point) -> bool:
    """Whether `p` lies inside the fence (ray casting; points on an edge may go either way)."""
    x, y = p
    inside = False
    pts = fence.vertices
    for i in range(len(pts) - 1):
        (x1, y1), (x2, y2) = pts[i], pts[i + 1]
        if (y1 > y) != (y2 > y):
            x_cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if x < x_cross:
                inside = not inside
    return inside


def distance(a: Point, b: Point) -> float:
    """Straight-line distance in metres."""
    return math.hypot(a[0] - b[0], a[1] - b[1])


def nearest_fence(fences: list[Fence], p: Point) -> Fence | None:
    """The fence containing `p`, or else the one whose nearest vertex is closest; None without fences."""
    for fence in fences:
        if contains(fence, p):
            return fence
    if not fences:
        return None
    return min(fences, key=lambda f: min(distance(v, p) for v in f.vertices))
