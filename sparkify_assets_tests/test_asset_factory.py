"""A table is one definition: adding a ``Table`` to the registry gives its asset, deps, DDL,
checks' key columns and a materialization, with no other edit."""

from __future__ import annotations

from dagster import AssetKey

from sparkify_assets.cli.load import run_load
from sparkify_assets.sql import catalog
from sparkify_assets.sql.model import Column, Table, TableKind, check_model, derived_from

from .conftest import definitions_for

PLAYS_PER_USER = Table(
    name="plays_per_user",
    description="Throwaway: plays per user, with the user's level.",
    columns=(
        Column("user_id", "INTEGER", "", False, lineage=derived_from("songplays", "user_id")),
        Column("level", "VARCHAR(16)", lineage=derived_from("users", "level")),
        Column("plays", "INTEGER", "", False, lineage=derived_from("songplays", "songplay_id")),
    ),
    kind=TableKind.WHOLE,
    primary_key=("user_id",),
    depends_on=("songplays", "users"),
    build="""
SELECT p.user_id, u.level, COUNT(*) AS plays
FROM {songplays} p LEFT JOIN {users} u ON u.user_id = p.user_id
GROUP BY p.user_id, u.level
""",
)


def test_the_deps_are_the_declared_ones_and_match_its_sql(warehouse, small_data):
    graph = definitions_for(warehouse, small_data).resolve_asset_graph()
    for table in catalog.BUILT_TABLES:
        parents = graph.get(AssetKey(table.name)).parent_keys
        assert parents == {AssetKey(name) for name in table.depends_on}, table.name
    check_model((*catalog.ALL_TABLES, PLAYS_PER_USER))


def test_adding_a_table_is_one_definition(warehouse, small_data, monkeypatch):
    groups = dict(catalog.BUILT_GROUPS)
    groups["analytics"] = (*groups["analytics"], PLAYS_PER_USER)
    monkeypatch.setattr(catalog, "BUILT_GROUPS", tuple(groups.items()))
    monkeypatch.setattr(catalog, "ALL_TABLES", (*catalog.ALL_TABLES, PLAYS_PER_USER))
    monkeypatch.setitem(catalog.TABLES, PLAYS_PER_USER.name, PLAYS_PER_USER)

    defs = definitions_for(warehouse, small_data)
    graph = defs.resolve_asset_graph()
    key = AssetKey("plays_per_user")
    assert key in graph.get_all_asset_keys()
    assert graph.get(key).parent_keys == {AssetKey("songplays"), AssetKey("users")}
    assert graph.get(key).group_name == "analytics"

    assert run_load(defs, str(small_data)).success
    plays = warehouse.query("SELECT SUM(plays) FROM plays_per_user")[0][0]
    assert plays == warehouse.query("SELECT COUNT(*) FROM songplays")[0][0] > 0
