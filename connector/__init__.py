"""The Certificate Connector for Microsoft Intune, as it runs on the NDES host.

It will hold its identity certificate from the Intune Connector CA, answer the NDES policy module
(verify request, notify), ask the cloud to validate challenges, and deliver status reports from a
durable outbox; in the background it will heartbeat, run the revocation agent and renew its
identity certificate. The rest is issue 5.

Built so far, the durable outbox: `outbox` (the report, the retry policy, the `OutboxStore` and
`Sender` ports), `store` (`SqlOutboxStore`, one table) and `delivery` (`OutboxWorker`, which logs
the real connector's events 4008 ScepNotifySuccess, 4009 ScepNotifyAttemptFailed and 4010
ScepNotifySaveToDiskFailed).
"""
