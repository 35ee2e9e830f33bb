"""WeChat API stand-in: token endpoints, the four face-verification endpoints, scriptable
outcomes, and a pusher that plays WeChat pushing ``face_identify`` (tests, benchmarks, demo)."""
