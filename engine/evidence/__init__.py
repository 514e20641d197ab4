"""Counted evidence: what request sources record per interval (counts and latency buckets) and
the statistics that judge it. Used by the canary analysis, the alert rules and what-if alike."""
