"""The imaging core, Flask-free: bytes in, bytes out. probe (header facts) -> geometry (the plan) ->
decode -> pipeline's STEPS (pure ndarray functions in ops) -> encode. Arrays are OpenCV's: BGR(A)."""
