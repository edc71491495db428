; `with <call> [as x]:` and `with name [as x]:` items. Whether the call is a
; helper or a DB-API connect, and whether the name holds such a connection,
; is decided in Rust.
(with_item
  value: [
    (call) @call
    (as_pattern . (call) @call)
    (identifier) @name
    (as_pattern . (identifier) @name)
  ])
