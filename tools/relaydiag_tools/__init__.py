"""relaydiag_tools - relaydiag-report and relaydiag-dashboard: the consumers of relaydiag's events that ship with it (docs/consumers.md)."""
