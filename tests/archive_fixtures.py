"""Write small street-level CSVs in the data.police.uk archive layout, byte for byte as chosen."""

from __future__ import annotations

from pathlib import Path

HEADER = (
    "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
    "Crime type,Last outcome category,Context"
)


def crime_line(
    month: str,
    crime_id: str = "",
    category: str = "Burglary",
    longitude: str = "-3.526912",
    latitude: str = "50.463581",
    location: str = "On or near Union Street",
    lsoa: str = "E01015120",
    lsoa_name: str = "Torbay 011A",
    outcome: str = "Under investigation",
    force_name: str = "Devon & Cornwall Police",
) -> str:
    fields = [
        crime_id,
        month,
        force_name,
        force_name,
        longitude,
        latitude,
        location,
        lsoa,
        lsoa_name,
        category,
        outcome,
        "",
    ]
    return ",".join(fields)


class ArchiveBuilder:
    def __init__(self, root: Path) -> None:
        self.root = root

    def write(
        self,
        force: str,
        month: str,
        lines: list[str],
        *,
        newline: str = "\n",
        bom: bool = False,
        header: str = HEADER,
    ) -> Path:
        path = self.root / month / f"{month}-{force}-street.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        text = newline.join([header, *lines]) + newline
        path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
        return path
