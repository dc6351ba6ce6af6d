"""FormLayout: the geometry of one voucher form (mm, origin top-left of the outer frame)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Box = tuple[float, float, float, float]  # x, y, width, height in mm


def _box(value: Any) -> Box:
    x, y, w, h = (float(v) for v in value)
    return (x, y, w, h)


@dataclass(frozen=True)
class FieldBox:
    name: str
    type: str
    box: Box
    label_box: Box | None
    label: str = ""
    required: bool = True
    choices: tuple[str, ...] = ()
    length: int | None = None
    min_value: int | None = None
    max_value: int | None = None


@dataclass(frozen=True)
class FormLayout:
    name: str
    title: str
    size_mm: tuple[float, float]
    serial_prefix: str
    serial_digits: int
    barcode_box: Box
    qr_box: Box | None
    seal_box: Box
    seal_kind: str
    seal_label_box: Box | None
    fields: tuple[FieldBox, ...]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FormLayout:
        """Build from one parsed form JSON (storage/builtin_forms spec)."""
        fields = tuple(
            FieldBox(
                name=f["name"],
                type=f["type"],
                box=_box(f["box"]),
                label_box=_box(f["label_box"]) if f.get("label_box") else None,
                label=f.get("label", ""),
                required=bool(f.get("required", True)),
                choices=tuple(f.get("choices") or ()),
                length=f.get("length"),
                min_value=f.get("min"),
                max_value=f.get("max"),
            )
            for f in data["fields"]
        )
        qr = data.get("qr")
        seal = data["seal"]
        return cls(
            name=data["form"],
            title=data.get("title", ""),
            size_mm=(float(data["size_mm"][0]), float(data["size_mm"][1])),
            serial_prefix=data["serial"]["prefix"],
            serial_digits=int(data["serial"]["digits"]),
            barcode_box=_box(data["barcode"]["box"]),
            qr_box=_box(qr["box"]) if qr else None,
            seal_box=_box(seal["box"]),
            seal_kind=seal.get("kind", ""),
            seal_label_box=_box(seal["label_box"]) if seal.get("label_box") else None,
            fields=fields,
        )

    @property
    def aspect(self) -> float:
        return self.size_mm[0] / self.size_mm[1]

    def field(self, name: str) -> FieldBox:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def ruled_boxes(self) -> tuple[Box, ...]:
        """Every cell printed with ruled borders (values, labels and the seal)."""
        boxes: list[Box] = []
        for f in self.fields:
            boxes.append(f.box)
            if f.label_box:
                boxes.append(f.label_box)
        boxes.append(self.seal_box)
        if self.seal_label_box:
            boxes.append(self.seal_label_box)
        return tuple(boxes)
