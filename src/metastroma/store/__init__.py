"""Run directory: atomic writers, manifest, checkpoints (layout in docs/run-directory.md)."""

from metastroma.store.atomic import (
    build_dir_atomic,
    write_json_atomic,
    write_parquet_atomic,
)
from metastroma.store.checkpoint import (
    latest_checkpoint,
    read_checkpoint,
    write_checkpoint,
)
from metastroma.store.cohort import (
    CohortOutputs,
    check_cohort_out,
    read_cohort,
    write_cohort,
)
from metastroma.store.manifest import read_manifest, write_manifest
from metastroma.store.readers import (
    read_cells,
    read_fields,
    read_metrics,
    read_positions_csv,
)
from metastroma.store.writers import (
    FieldsWriter,
    MetricsWriter,
    SnapshotWriter,
    trigger_for,
)

__all__ = [
    "CohortOutputs",
    "FieldsWriter",
    "MetricsWriter",
    "SnapshotWriter",
    "build_dir_atomic",
    "check_cohort_out",
    "latest_checkpoint",
    "read_cells",
    "read_checkpoint",
    "read_cohort",
    "read_fields",
    "read_manifest",
    "read_metrics",
    "read_positions_csv",
    "trigger_for",
    "write_checkpoint",
    "write_cohort",
    "write_json_atomic",
    "write_manifest",
    "write_parquet_atomic",
]
