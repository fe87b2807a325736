"""Flows in the database: definitions, runs (claimed like inbox rows), deliveries, activity, the
suppression list and the account's From address. Every query is scoped by account.

One module per concern, all of it imported from here: ``_definitions`` (the flows),
``_event_counts`` (what conditions and warnings count of events), ``_runs`` (runs and their
leases), ``_deliveries`` (the messages they send), ``_activity`` (the steps profiles take, and
the statistics counted from them), ``_email`` (suppressions and the From).
"""

from shoptrack.store.flows._activity import (
    StepStatistics,
    activity_of_profile,
    flow_statistics,
    record_activity,
    record_run_activity,
    step_statistics,
)
from shoptrack.store.flows._definitions import (
    FlowRecord,
    flows_triggered_by,
    get_flow,
    insert_flow,
    list_flows,
    retarget_flows,
    update_flow,
)
from shoptrack.store.flows._deliveries import (
    DeliveryRecord,
    delivery_for,
    emailed_since,
    emails_sent_between,
    mark_delivery,
    prepare_delivery,
    restart_delivery,
)
from shoptrack.store.flows._email import (
    account_email_from,
    list_suppressions,
    set_account_email_from,
    suppress,
    suppression_of,
    unsuppress,
)
from shoptrack.store.flows._event_counts import count_profile_events, recent_event_count
from shoptrack.store.flows._runs import (
    RunRecord,
    RunState,
    claim_due_runs,
    erase_profile_flows,
    finish_run,
    finish_send,
    hold_for_send,
    last_entry,
    move_run,
    renew_send_lease,
    retry_run,
    start_run,
)

__all__ = [
    "DeliveryRecord",
    "FlowRecord",
    "RunRecord",
    "RunState",
    "StepStatistics",
    "account_email_from",
    "activity_of_profile",
    "claim_due_runs",
    "count_profile_events",
    "delivery_for",
    "emailed_since",
    "emails_sent_between",
    "erase_profile_flows",
    "finish_run",
    "finish_send",
    "flow_statistics",
    "flows_triggered_by",
    "get_flow",
    "hold_for_send",
    "insert_flow",
    "last_entry",
    "list_flows",
    "list_suppressions",
    "mark_delivery",
    "move_run",
    "prepare_delivery",
    "recent_event_count",
    "record_activity",
    "record_run_activity",
    "renew_send_lease",
    "restart_delivery",
    "retarget_flows",
    "retry_run",
    "set_account_email_from",
    "start_run",
    "step_statistics",
    "suppress",
    "suppression_of",
    "unsuppress",
    "update_flow",
]
