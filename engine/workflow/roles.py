"""The roles a process's lanes may name, with the label officials read for each.

A lane of ``processes/*.bpmn`` is a role key (``requester``…); pages, diagrams and reports show
its label in the reader's language, never the key. Deploy refuses a lane that is not listed here,
so a new role cannot reach a page without a label (docs/processes.md).
"""

from __future__ import annotations

from engine.i18n import N_, Message

ROLE_LABELS: dict[str, Message] = {
    "requester": Message(N_("Requesting department")),
    "provider": Message(N_("Providing department")),
    "authority": Message(N_("Data-sharing authority")),
    "supervisor": Message(N_("Authority of the level above")),
    "drc": Message(N_("Development and reform department")),
    "industry_it": Message(N_("Industry and information technology department")),
    "finance": Message(N_("Finance department")),
    "data_sharing": Message(N_("Data-sharing authority (project review)")),
    "cyberspace": Message(N_("Cyberspace administration")),
}
KNOWN_ROLES = frozenset(ROLE_LABELS)
