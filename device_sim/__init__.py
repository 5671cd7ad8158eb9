"""Simulated managed devices: Windows, iOS/macOS and Android personas.

They will enrol with the cloud, check in, install trusted-certificate profiles, and run each SCEP
profile against NDES with their platform's quirks; renew at the threshold and remove certificates
when retired. Not built yet: see issue 6.
"""
