"""What one staging load read, loaded, quarantined, and which of its files' keys drifted."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from sparkify_assets.contract.records import FileTally
from sparkify_assets.contract.shape import describe

# Drifted files a load describes in its result (and error); the rest are counted, and all of them
# are in load_drift.
DESCRIBED_DRIFTS = 20


@dataclass
class StagingResult:
    """What one staging load read, loaded and quarantined."""

    partition: str
    files: list[FileTally] = field(default_factory=list)
    seconds: float = 0.0
    drift: list[str] = field(default_factory=list)  # one line per drifted file (the first ones)
    drifted_files: int = 0

    def note_drift(self, tally: FileTally) -> None:
        """Describe a file's drifted keys, if any (call once its records are all read)."""
        if not tally.keys:
            return
        self.drifted_files += 1
        if len(self.drift) < DESCRIBED_DRIFTS:
            self.drift.append(describe(tally.source, tally.records, tally.keys.changes()))

    def with_unchanged(self, records: int, rejected: int) -> StagingResult:
        """This result and the files a partial load left as they were (for the reject share)."""
        kept = FileTally("unchanged files", records, records - rejected, rejected)
        return replace(self, files=[*self.files, kept])

    def drift_summary(self) -> str:
        """The drifted files' lines joined, with how many more there are; '' without drift."""
        more = self.drifted_files - len(self.drift)
        return "; ".join(self.drift + ([f"{more} more drifted file(s)"] if more > 0 else []))

    @property
    def records(self) -> int:
        return sum(tally.records for tally in self.files)

    @property
    def loaded(self) -> int:
        return sum(tally.loaded for tally in self.files)

    @property
    def rejected(self) -> int:
        return sum(tally.rejected for tally in self.files)

    def reject_share(self) -> float:
        return self.rejected / self.records if self.records else 0.0
