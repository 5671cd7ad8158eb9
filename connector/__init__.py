"""The Certificate Connector for Microsoft Intune, as it runs on the NDES host.

It will hold its identity certificate from the Intune Connector CA, answer the NDES policy module
(verify request, notify), ask the cloud to validate challenges, and deliver status reports from a
durable outbox; in the background it will heartbeat, run the revocation agent and renew its
identity certificate. Not built yet: see issue 5.
"""
