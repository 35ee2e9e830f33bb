"""The WeChat side of wxface: the pure message-push protocol core (signatures, AES, push bodies,
event models), the applicant hashes, errcode classification, and the async API client."""
