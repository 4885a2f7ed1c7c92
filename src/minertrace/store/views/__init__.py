"""Read-only views for the HTTP API, the dashboard and replay. Set-based, parameters bound.

Every function takes a Connection (the caller picks the transaction: the web app's is read
only) and returns typed rows. Stage vectors are large JSON documents: each query extracts the
few vectors it needs once (a materialised CTE) and expands them there, so a document is
decompressed once per request, never once per UID. Lists are capped at the `*_MAX` page
sizes whatever the caller asks.
"""

from minertrace.store.views.cycles import (
    CYCLES_MAX,
    CycleDetail,
    CycleSummary,
    TimelineBucket,
    cycle_stages,
    cycle_timeline,
    get_cycle,
    has_tables,
    latest_cycle,
    list_cycles,
    stage_maxima,
)
from minertrace.store.views.miners import (
    HISTORY_MAX,
    MINERS_MAX,
    HotkeyMatch,
    MinerRow,
    PeriodRow,
    ValidatorRow,
    find_hotkey,
    list_miners,
    list_validators,
    miner_history,
    uid_known,
)
from minertrace.store.views.replay import (
    ReplaySource,
    StoredScoreRow,
    replay_source,
    score_rows_by_key,
)

__all__ = [
    "CYCLES_MAX",
    "HISTORY_MAX",
    "MINERS_MAX",
    "CycleDetail",
    "CycleSummary",
    "HotkeyMatch",
    "MinerRow",
    "PeriodRow",
    "ReplaySource",
    "StoredScoreRow",
    "TimelineBucket",
    "ValidatorRow",
    "cycle_stages",
    "cycle_timeline",
    "find_hotkey",
    "get_cycle",
    "has_tables",
    "latest_cycle",
    "list_cycles",
    "list_miners",
    "list_validators",
    "miner_history",
    "replay_source",
    "score_rows_by_key",
    "stage_maxima",
    "uid_known",
]
