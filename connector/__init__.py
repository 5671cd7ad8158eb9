"""The Certificate Connector for Microsoft Intune, as it runs on the NDES host.

It holds its identity certificate from the Intune Connector CA, answers the NDES policy module
(verify request, notify), asks the cloud to validate challenges, and delivers status reports from
a durable outbox; in the background it heartbeats, runs the revocation agent and renews its
identity certificate.

Modules: `app` (the local API and the lifespan that runs the agents), `service` (verify and
notify), `cloud` (`CloudClient`, the cloud's connector API over mutual TLS), `identity` (the
identity key pair on disk: atomic writes, the start-up check), the durable outbox (`outbox`: the
report, the retry policy, the `OutboxStore` and `Sender` ports; `store`: `SqlOutboxStore`;
`delivery`: `OutboxWorker`, events 4008-4010), and the agents: `heartbeat` (`HeartbeatAgent`),
`revocation` (`RevocationAgent` and its `CaRevoker` port, events 3002-3101) with `ca`
(`HttpCaRevoker`, the CA's HTTP API), `renewal` (`IdentityRenewer`, events 10100/10102), all
looping through `periodic.repeat`.
"""
