"""The alerting wing: what a failure does, and what reaches on-call.

- ``failures``: the failure policy's effects (log, metric, state tags, one alert);
- ``incidents``: failures that share a cause become one incident alert (Alertmanager's grouping);
- ``notices``: provider notices announced once, and the tags a refreshed token gets;
- ``alarm_relay``: CloudWatch alarm state changes published as ``alarm.*`` alerts.

The alert itself (``token_refresher.alerts``) and the policy's rules (``token_refresher.state``)
are kernel values: every wing builds alerts.
"""

__all__ = ["alarm_relay", "failures", "incidents", "notices"]
