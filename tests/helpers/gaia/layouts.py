"""Gaia validator databases as Gaia's own Alembic chain leaves them, written from scratch.

Each function reproduces, for the tables minertrace reads or adopts (`node_table`,
`score_table`, `miner_performance_stats`, and `miner_stats` where Gaia replaced the last one),
the DDL at one Gaia revision of Nickel5-Inc/Gaia's `alembic_migrations_validator`: column order,
types, defaults (`node_table.uid` is a SERIAL there), constraints, indexes, foreign keys,
comments, and `alembic_version`. Checked against a database built by running Gaia's migration
files unmodified (see docs/gaia.md).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection

N_UIDS = 256

MPS_COMMENTS = {
    "miner_uid": "Miner's UID",
    "miner_hotkey": "Miner's hotkey",
    "period_start": "Start of the performance period",
    "period_end": "End of the performance period",
    "period_type": "Type of period: daily, weekly, monthly, all_time",
    "total_tasks_attempted": "Total tasks attempted across all types",
    "total_tasks_completed": "Total tasks successfully completed",
    "total_tasks_scored": "Total tasks that received scores",
    "overall_success_rate": "Completion rate (completed/attempted)",
    "overall_avg_score": "Weighted average score across all task types",
    "overall_rank": "Overall rank among all miners for this period",
    "weather_avg_score": "Average weather forecast score",
    "weather_rank": "Rank in weather forecasting",
    "weather_best_score": "Best weather score in period",
    "weather_latest_score": "Most recent weather score",
    "soil_moisture_avg_score": "Average combined soil moisture score",
    "soil_moisture_surface_rmse_avg": "Average surface RMSE",
    "soil_moisture_rootzone_rmse_avg": "Average rootzone RMSE",
    "geomagnetic_avg_score": "Average geomagnetic prediction score",
    "geomagnetic_avg_error": "Average prediction error magnitude",
    "performance_trend": "improving, declining, stable, insufficient_data",
    "trend_confidence": "Confidence in trend assessment (0-1)",
    "last_active_time": "Last time miner submitted a task",
    "consecutive_failures": "Number of consecutive failed tasks",
    "uptime_percentage": "Percentage of time miner was responsive",
    "detailed_metrics": "Additional detailed metrics and breakdowns",
    "score_distribution": "Score percentiles and distribution stats",
    "submitted_weight": "Final weight submitted to chain by this validator",
    "raw_calculated_weight": "Pre-normalization weight from scoring algorithm",
    "excellence_weight": "Weight from excellence pathway calculation",
    "diversity_weight": "Weight from diversity pathway calculation",
    "scoring_pathway": "Which pathway was selected: excellence, diversity, or none",
    "pathway_details": "Detailed breakdown of pathway calculation",
    "incentive": "Final incentive value from chain consensus",
    "consensus_rank": "Miner rank based on final incentive values",
    "weight_submission_block": "Block number when weights were submitted",
    "consensus_block": "Block number when consensus was calculated",
    "weather_weight_contribution": "Contribution of weather task to final weight",
    "geomagnetic_weight_contribution": "Contribution of geomagnetic task to final weight",
    "soil_weight_contribution": "Contribution of soil moisture task to final weight",
    "multi_task_bonus": "Bonus for performing multiple tasks well",
    "percentile_rank_weather": "Percentile rank in weather forecasting (0-100)",
    "percentile_rank_geomagnetic": "Percentile rank in geomagnetic predictions (0-100)",
    "percentile_rank_soil": "Percentile rank in soil moisture predictions (0-100)",
    "excellence_qualified_tasks": "Array of tasks where miner qualified for excellence pathway",
    "validator_hotkey": "Which validator calculated these stats",
}

_COUNT = "integer DEFAULT 0 NOT NULL"
_F = "double precision"


def _task(prefix: str, extra: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [
        (f"{prefix}_tasks_attempted", _COUNT),
        (f"{prefix}_tasks_completed", _COUNT),
        (f"{prefix}_tasks_scored", _COUNT),
        (f"{prefix}_avg_score", _F),
        (f"{prefix}_success_rate", _F),
        (f"{prefix}_rank", "integer"),
        *extra,
    ]


MPS_ORIGINAL = [
    ("id", "serial NOT NULL"),
    ("miner_uid", "text NOT NULL"),
    ("miner_hotkey", "text NOT NULL"),
    ("period_start", "timestamp with time zone NOT NULL"),
    ("period_end", "timestamp with time zone NOT NULL"),
    ("period_type", "character varying(20) NOT NULL"),
    ("total_tasks_attempted", _COUNT),
    ("total_tasks_completed", _COUNT),
    ("total_tasks_scored", _COUNT),
    ("overall_success_rate", _F),
    ("overall_avg_score", _F),
    ("overall_rank", "integer"),
    *_task("weather", [("weather_best_score", _F), ("weather_latest_score", _F)]),
    *_task(
        "soil_moisture",
        [
            ("soil_moisture_surface_rmse_avg", _F),
            ("soil_moisture_rootzone_rmse_avg", _F),
            ("soil_moisture_best_score", _F),
            ("soil_moisture_latest_score", _F),
        ],
    ),
    *_task(
        "geomagnetic",
        [
            ("geomagnetic_best_score", _F),
            ("geomagnetic_latest_score", _F),
            ("geomagnetic_avg_error", _F),
        ],
    ),
    ("performance_trend", "character varying(20)"),
    ("trend_confidence", _F),
    ("last_active_time", "timestamp with time zone"),
    ("consecutive_failures", _COUNT),
    ("uptime_percentage", _F),
    ("detailed_metrics", "jsonb"),
    ("score_distribution", "jsonb"),
    ("calculated_at", "timestamp with time zone DEFAULT CURRENT_TIMESTAMP NOT NULL"),
    ("updated_at", "timestamp with time zone DEFAULT CURRENT_TIMESTAMP NOT NULL"),
]

# 8d832ba6c04d: the enhancement plan's 19 columns, appended in this order.
MPS_ENHANCEMENT = [
    ("submitted_weight", _F),
    ("raw_calculated_weight", _F),
    ("excellence_weight", _F),
    ("diversity_weight", _F),
    ("scoring_pathway", "character varying(20)"),
    ("pathway_details", "jsonb"),
    ("incentive", _F),
    ("consensus_rank", "integer"),
    ("weight_submission_block", "bigint"),
    ("consensus_block", "bigint"),
    ("weather_weight_contribution", _F),
    ("geomagnetic_weight_contribution", _F),
    ("soil_weight_contribution", _F),
    ("multi_task_bonus", _F),
    ("percentile_rank_weather", _F),
    ("percentile_rank_geomagnetic", _F),
    ("percentile_rank_soil", _F),
    ("excellence_qualified_tasks", "text[]"),
    ("validator_hotkey", "text"),
]

NODE_COLUMNS = [
    ("uid", "serial NOT NULL", "Unique ID for the node, 0-255"),
    ("hotkey", "text", "Hotkey of the node"),
    ("coldkey", "text", "Coldkey of the node"),
    ("ip", "text", "IP address of the node"),
    ("ip_type", "text", "IP address type (e.g., IPv4, IPv6)"),
    ("port", "integer", "Port number for the node's services"),
    ("incentive", _F, "Current incentive score of the node"),
    ("stake", _F, "Current stake of the node"),
    ("trust", _F, "Current trust score of the node"),
    ("vtrust", _F, "Current validator trust score of the node"),
    ("protocol", "text", "Protocol version used by the node"),
    (
        "last_updated",
        "timestamp with time zone DEFAULT CURRENT_TIMESTAMP NOT NULL",
        "Timestamp of the last update for this node's record",
    ),
]

# 103b798d87f1 (after 0f9fe00f6e93): Fiber key caching (its index is gone again at Gaia's head).
NODE_FIBER = [
    ("fiber_symmetric_key", "text", "Cached Fiber symmetric key for encrypted communication"),
    ("fiber_symmetric_key_uuid", "text", "UUID for the cached symmetric key"),
    ("fiber_key_cached_at", "timestamp with time zone", "When the symmetric key was cached"),
    ("fiber_key_expires_at", "timestamp with time zone", "When the cached symmetric key expires"),
]


def _q(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _create(name: str, columns: list[tuple[str, str]], extra: list[str]) -> str:
    body = ",\n    ".join([f"{c} {t}" for c, t in columns] + extra)
    return f"CREATE TABLE {name} (\n    {body}\n)"


def _comments(table: str, comments: dict[str, str], table_comment: str | None) -> list[str]:
    out = [f"COMMENT ON TABLE {table} IS {_q(table_comment)}"] if table_comment else []
    out += [f"COMMENT ON COLUMN {table}.{c} IS {_q(v)}" for c, v in comments.items()]
    return out


def _node_table(fiber: bool) -> list[str]:
    cols = NODE_COLUMNS + (NODE_FIBER if fiber else [])
    ddl = [
        _create(
            "node_table",
            [(c, t) for c, t, _ in cols],
            [
                "CONSTRAINT node_table_uid_check CHECK (uid >= 0 AND uid < 256)",
                "CONSTRAINT node_table_pkey PRIMARY KEY (uid)",
            ],
        ),
        *_comments(
            "node_table",
            {c: v for c, _, v in cols},
            "Table storing information about registered nodes (miners/validators).",
        ),
        "CREATE INDEX idx_node_table_uid ON node_table (uid)",
        "CREATE INDEX idx_node_table_uid_last_updated ON node_table (uid, last_updated)",
        # 3704fd24c76d
        "CREATE INDEX idx_node_hotkey_on_node_table ON node_table (hotkey)",
    ]
    return ddl


_SCORE_TAIL = [
    ("created_at", "timestamp with time zone DEFAULT CURRENT_TIMESTAMP NOT NULL"),
    ("status", "character varying(50) DEFAULT 'pending'::character varying"),
]
_SCORE_COMMENTS = {
    "task_name": "Name of the task being scored",
    "task_id": "Unique ID for the specific task instance",
    "created_at": "Timestamp of score creation",
    "status": "Status of the scoring process",
}
_UID_COLUMNS = [(f"uid_{i}_score", _F) for i in range(N_UIDS)]


def _score_array() -> list[str]:
    cols = [
        ("task_name", "character varying(255)"),
        ("task_id", "text"),
        ("score", "double precision[]"),
        *_SCORE_TAIL,
    ]
    comments = dict(_SCORE_COMMENTS, score="Array of scores, typically per UID")
    return [
        _create(
            "score_table",
            cols,
            ["CONSTRAINT uq_score_table_task_name_task_id UNIQUE (task_name, task_id)"],
        ),
        *_comments("score_table", comments, "Table to store scores for various tasks."),
        "CREATE INDEX idx_score_created_at_on_score_table ON score_table (created_at)",
        "CREATE INDEX idx_score_table_task_name_created_at_desc "
        "ON score_table (task_name, created_at DESC)",
        # 3704fd24c76d
        "CREATE INDEX idx_score_task_name_created_at_desc_on_score_table "
        "ON score_table (task_name, created_at DESC)",
    ]


def _score_columns_refactor() -> list[str]:
    """score_table_refactor: rebuilt as score_table_new (id, one column per UID), renamed."""
    cols = [("id", "serial NOT NULL"), ("task_name", "character varying(255)")]
    cols += [("task_id", "text"), *_UID_COLUMNS, *_SCORE_TAIL]
    return [
        "CREATE SEQUENCE score_table_new_id_seq AS integer",
        _create(
            "score_table",
            [(c, t.replace("serial", "integer")) for c, t in cols],
            [
                "CONSTRAINT score_table_new_pkey PRIMARY KEY (id)",
                "CONSTRAINT uq_score_table_new_task_name_task_id UNIQUE (task_name, task_id)",
            ],
        ),
        "ALTER TABLE score_table ALTER COLUMN id SET DEFAULT "
        "nextval('score_table_new_id_seq'::regclass)",
        "ALTER SEQUENCE score_table_new_id_seq OWNED BY score_table.id",
        "CREATE INDEX idx_score_created_at_on_score_table ON score_table (created_at)",
        "CREATE INDEX idx_score_task_name_created_at_desc_on_score_table "
        "ON score_table (task_name, created_at DESC)",
    ]


def _score_columns_later() -> list[str]:
    """0f9fe00f6e93: `id` gone, the original constraint name back, every column commented."""
    cols = [("id", "integer"), ("task_name", "character varying(255)"), ("task_id", "text")]
    cols += [*_UID_COLUMNS, *_SCORE_TAIL]
    comments = dict(_SCORE_COMMENTS)
    comments.update({f"uid_{i}_score": f"Score for UID {i}" for i in range(N_UIDS)})
    return [
        _create(
            "score_table",
            cols,
            ["CONSTRAINT uq_score_table_task_name_task_id UNIQUE (task_name, task_id)"],
        ),
        *_comments(
            "score_table",
            comments,
            "Table to store scores for various tasks with individual UID columns for "
            "efficient querying.",
        ),
        # The dropped `id` keeps its attribute number, as in Gaia's rebuilt table.
        "ALTER TABLE score_table DROP COLUMN id",
        "CREATE INDEX idx_score_created_at_on_score_table ON score_table (created_at)",
        "CREATE INDEX idx_score_task_name_created_at_desc_on_score_table "
        "ON score_table (task_name, created_at DESC)",
        "CREATE INDEX idx_score_table_task_name_created_at_desc "
        "ON score_table (task_name, created_at DESC)",
    ]


_MPS_INDEXES = [
    ("idx_mps_calculated_at", "calculated_at DESC"),
    ("idx_mps_geomagnetic_rank", "geomagnetic_rank, period_type"),
    ("idx_mps_last_active", "last_active_time DESC"),
    ("idx_mps_miner_hotkey", "miner_hotkey"),
    ("idx_mps_overall_rank", "overall_rank, period_type"),
    ("idx_mps_overall_score", "overall_avg_score DESC, period_type"),
    ("idx_mps_period_type_start", "period_type, period_start DESC"),
    ("idx_mps_soil_rank", "soil_moisture_rank, period_type"),
    ("idx_mps_weather_rank", "weather_rank, period_type"),
]
_MPS_ENHANCED_INDEXES = [
    (
        "idx_mps_chain_integration",
        "weight_submission_block, consensus_block",
        "weight_submission_block",
    ),
    ("idx_mps_consensus_rank", "consensus_rank, period_type", "consensus_rank"),
    ("idx_mps_incentive", "incentive DESC", "incentive"),
    ("idx_mps_pathway_performance", "scoring_pathway, submitted_weight DESC, period_type", None),
    ("idx_mps_scoring_pathway", "scoring_pathway, period_type", None),
    ("idx_mps_submitted_weight", "submitted_weight DESC", "submitted_weight"),
    ("idx_mps_validator_hotkey", "validator_hotkey, period_start DESC", None),
    ("idx_mps_weight_submission_block", "weight_submission_block DESC", "weight_submission_block"),
]
_MPS_CHECKS = [
    "CONSTRAINT chk_percentile_ranges CHECK ("
    + " AND ".join(
        f"({c} IS NULL OR ({c} >= 0 AND {c} <= 100))"
        for c in ("percentile_rank_weather", "percentile_rank_geomagnetic", "percentile_rank_soil")
    )
    + ")",
    "CONSTRAINT chk_scoring_pathway CHECK ("
    "scoring_pathway IN ('excellence', 'diversity', 'none') OR scoring_pathway IS NULL)",
]


def _mps(enhanced: bool, integer_uid: bool) -> list[str]:
    cols = MPS_ORIGINAL + (MPS_ENHANCEMENT if enhanced else [])
    comments = {c: v for c, v in MPS_COMMENTS.items() if c in dict(cols)}
    ddl = [
        _create(
            "miner_performance_stats",
            cols,
            [
                *(_MPS_CHECKS if enhanced else []),
                "CONSTRAINT miner_performance_stats_pkey PRIMARY KEY (id)",
            ],
        ),
        "ALTER TABLE miner_performance_stats ADD CONSTRAINT uq_mps_miner_period "
        "UNIQUE (miner_uid, period_start, period_end, period_type)",
        *_comments(
            "miner_performance_stats",
            comments,
            "Comprehensive miner performance statistics aggregated across all task types for "
            "visualization and analysis.",
        ),
        *(f"CREATE INDEX {n} ON miner_performance_stats ({cols_})" for n, cols_ in _MPS_INDEXES),
        "CREATE INDEX idx_mps_miner_uid ON miner_performance_stats (miner_uid)",
    ]
    if enhanced:
        ddl += [
            f"CREATE INDEX {n} ON miner_performance_stats ({c})"
            + (f" WHERE {w} IS NOT NULL" if w else "")
            for n, c, w in _MPS_ENHANCED_INDEXES
        ]
    if integer_uid:
        # score_table_refactor: miner_uid re-created as INTEGER (last, uncommented; the TEXT
        # column's index goes with it), the unique constraint rebuilt, a foreign key added.
        ddl += [
            "ALTER TABLE miner_performance_stats ADD COLUMN miner_uid_new integer",
            "ALTER TABLE miner_performance_stats DROP CONSTRAINT uq_mps_miner_period",
            "ALTER TABLE miner_performance_stats DROP COLUMN miner_uid",
            "ALTER TABLE miner_performance_stats RENAME COLUMN miner_uid_new TO miner_uid",
            "ALTER TABLE miner_performance_stats ALTER COLUMN miner_uid SET NOT NULL",
            "ALTER TABLE miner_performance_stats ADD CONSTRAINT "
            "fk_miner_performance_stats_miner_uid FOREIGN KEY (miner_uid) "
            "REFERENCES node_table (uid) ON DELETE CASCADE",
            "ALTER TABLE miner_performance_stats ADD CONSTRAINT uq_mps_miner_period "
            "UNIQUE (miner_uid, period_start, period_end, period_type)",
        ]
    return ddl


def _miner_stats() -> list[str]:
    """0f9fe00f6e93's replacement table (abridged to the columns a test touches + its FK)."""
    return [
        _create(
            "miner_stats",
            [
                ("miner_uid", "integer NOT NULL"),
                ("miner_hotkey", "character varying(255) NOT NULL"),
                ("miner_rank", "integer"),
                ("avg_forecast_score", _F),
                ("successful_forecasts", _COUNT),
                ("validator_hotkey", "text"),
                ("updated_at", "timestamp with time zone DEFAULT CURRENT_TIMESTAMP NOT NULL"),
            ],
            [
                "CONSTRAINT miner_stats_pkey PRIMARY KEY (miner_uid)",
                "CONSTRAINT miner_stats_miner_uid_fkey FOREIGN KEY (miner_uid) "
                "REFERENCES node_table (uid) ON DELETE CASCADE",
            ],
        ),
        "CREATE INDEX idx_ms_miner_hotkey ON miner_stats (miner_hotkey)",
    ]


def _alembic(revision: str) -> list[str]:
    return [
        "CREATE TABLE alembic_version (version_num character varying(32) NOT NULL, "
        "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))",
        f"INSERT INTO alembic_version (version_num) VALUES ({_q(revision)})",
    ]


def ddl(revision: str) -> list[str]:
    """The statements that build a Gaia validator database at `revision` (supported ones)."""
    if revision == "7cc0a0cb963c":
        return [*_node_table(False), *_score_array(), *_mps(False, False), *_alembic(revision)]
    if revision == "8d832ba6c04d":
        return [*_node_table(False), *_score_array(), *_mps(True, False), *_alembic(revision)]
    if revision == "score_table_refactor":
        parts = [*_node_table(False), *_score_columns_refactor(), *_mps(True, True)]
        return [*parts, *_alembic(revision)]
    if revision == "0f9fe00f6e93":
        return [*_node_table(False), *_score_columns_later(), *_miner_stats(), *_alembic(revision)]
    if revision == "f33d500dc2bc":
        return [*_node_table(True), *_score_columns_later(), *_miner_stats(), *_alembic(revision)]
    raise ValueError(f"no fixture for Gaia revision {revision}")


LAYOUTS = ("7cc0a0cb963c", "8d832ba6c04d", "score_table_refactor", "0f9fe00f6e93", "f33d500dc2bc")


def build(conn: Connection, revision: str) -> None:
    """Create Gaia's tables at `revision` in the connection's current schema."""
    for statement in ddl(revision):
        conn.exec_driver_sql(statement)


Builder = Callable[[Connection, str], None]
