"""The record schemas of the SFT and PPM datasets (docs/architecture.md).

Writers (extraction, the world's teacher data) build records through these classes and the
trainers parse them back, so the keys of a dataset are spelled in one place and a bad record fails
with its file, index and field named. `to_record` keeps the field order (the JSON key order of the
bytes written) and leaves unset optional fields out.
"""

import dataclasses
from typing import Any, ClassVar

_KIND_NAMES = {str: "a string", int: "an integer", float: "a number", list: "a JSON array"}


def read_field(
  record: dict[str, Any], name: str, kind: type, where: str, *, optional: bool = False
) -> Any:
  """`record[name]`, checked to be a `kind` (a float may be written as an integer; a bool is
  never a number); None for an absent `optional` field."""
  if name not in record:
    if optional:
      return None
    raise ValueError(f"{where}: missing field {name!r} (has {sorted(record)})")
  value = record[name]
  if not isinstance(value, (int, float) if kind is float else kind) or isinstance(value, bool):
    raise ValueError(
      f"{where}: field {name!r} must be {_KIND_NAMES[kind]}, "
      f"got {type(value).__name__} {value!r:.60}"
    )
  return value


def check_object(record: Any, where: str) -> None:
  """Fails, naming `where`, unless `record` is a JSON object (a dict)."""
  if not isinstance(record, dict):
    raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")


def _to_record(example: Any) -> dict[str, Any]:
  return {
    f.name: getattr(example, f.name)
    for f in dataclasses.fields(example)
    if getattr(example, f.name) is not None
  }


@dataclasses.dataclass(frozen=True)
class SFTExample:
  """The policy learns `response` after `prompt` (only response tokens carry loss)."""

  SCHEMA: ClassVar[str] = "sft"
  problem_id: str
  prompt: str
  response: str
  difficulty: int | None = None  # The generator's difficulty, on the world's teacher examples.

  def to_record(self) -> dict[str, Any]:
    return _to_record(self)

  @classmethod
  def from_record(cls, record: Any, *, where: str = "record") -> "SFTExample":
    check_object(record, where)
    return cls(
      problem_id=read_field(record, "problem_id", str, where),
      prompt=read_field(record, "prompt", str, where),
      response=read_field(record, "response", str, where),
      difficulty=read_field(record, "difficulty", int, where, optional=True),
    )


@dataclasses.dataclass(frozen=True)
class PPMPair:
  """After the shared `prompt`, step `pos` is preferred to `neg`; the PPM scores `prompt + pos`
  and `prompt + neg` at their last token. Optional fields come in pairs, both or neither (older
  datasets lack the last two pairs):
  - `pos_q`, `neg_q`: the steps' Q-values (the PQM baseline regresses onto them);
  - `pos_count`, `neg_count`: how many chosen / rejected steps the pair's node used, from which
    the trainer weights the pair as the official code does;
  - `pos_completion`, `neg_completion`: the steps after `pos` (`neg`) down the greedy path to a
    correct (wrong) answer; with them the pair compares two complete solutions (the ORM).
  """

  SCHEMA: ClassVar[str] = "ppm_pairs"
  problem_id: str
  prompt: str
  pos: str
  neg: str
  pos_q: float | None = None
  neg_q: float | None = None
  pos_count: int | None = None
  neg_count: int | None = None
  pos_completion: str | None = None
  neg_completion: str | None = None

  def to_record(self) -> dict[str, Any]:
    return _to_record(self)

  @classmethod
  def from_record(cls, record: Any, *, where: str = "record") -> "PPMPair":
    check_object(record, where)
    pair = cls(
      problem_id=read_field(record, "problem_id", str, where),
      prompt=read_field(record, "prompt", str, where),
      pos=read_field(record, "pos", str, where),
      neg=read_field(record, "neg", str, where),
      pos_q=read_field(record, "pos_q", float, where, optional=True),
      neg_q=read_field(record, "neg_q", float, where, optional=True),
      pos_count=read_field(record, "pos_count", int, where, optional=True),
      neg_count=read_field(record, "neg_count", int, where, optional=True),
      pos_completion=read_field(record, "pos_completion", str, where, optional=True),
      neg_completion=read_field(record, "neg_completion", str, where, optional=True),
    )
    for first, second in (
      ("pos_q", "neg_q"),
      ("pos_count", "neg_count"),
      ("pos_completion", "neg_completion"),
    ):
      if (getattr(pair, first) is None) != (getattr(pair, second) is None):
        raise ValueError(
          f"{where}: fields {first!r} and {second!r} come together, got only "
          f"{first if getattr(pair, second) is None else second}"
        )
    counts = (pair.pos_count, pair.neg_count)
    if pair.pos_count is not None and (min(counts) < 0 or sum(counts) == 0):
      raise ValueError(
        f"{where}: fields 'pos_count' and 'neg_count' must be >= 0 and not both 0, "
        f"got {pair.pos_count}, {pair.neg_count}"
      )
    return pair
