"""The fake Microsoft Intune cloud (and the bits of Entra ID it needs).

It will own tenants, users, groups, devices, trusted-certificate and SCEP profiles, the per-device
challenges, the "Microsoft Intune ImportPFX Connector CA", registered connectors, certificate state
reports and the revocation queue; and serve the Graph-shaped admin API, the device check-in API,
the connector API (mutual TLS) and Microsoft's third-party SCEP validation API.
Not built yet: see issue 4.
"""
