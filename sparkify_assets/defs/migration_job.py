"""The migration as a Dagster job, for deployments run from the UI (``sparkify migrate`` in the
shell does the same): each table brought to this release's definitions, the run's log saying
what each step does, and the plan it ran in the run's metadata. See docs/upgrading.md."""

from dagster import MetadataValue, OpExecutionContext, ResourceParam, job, op

from sparkify_assets.defs.resources import SparkifySource
from sparkify_assets.warehouse import migration
from sparkify_assets.warehouse.base import Warehouse


@op(description="Migrate every table to this release's definitions (`sparkify plan` shows how).")
def migrate_warehouse(
    context: OpExecutionContext, warehouse: ResourceParam[Warehouse], source: SparkifySource
) -> None:
    done, seconds = migration.migrate(warehouse, source.open(), context.log.info)
    context.add_output_metadata(
        {
            "plan": MetadataValue.md(f"```\n{done.text()}\n```"),
            "tables_migrated": MetadataValue.int(len(done.needed)),
            "rows_rebuilt": MetadataValue.int(done.rows_to_rebuild),
            "migration_seconds": MetadataValue.float(round(seconds, 3)),
        }
    )


@job(description="Bring the warehouse to this release's definitions after an upgrade.")
def migrate():
    migrate_warehouse()


MIGRATION_JOBS = [migrate]
