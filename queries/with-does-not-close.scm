; `with <call> [as x]:` and `with name [as x]:` items. Whether the call is a
; helper or a DB-API connect, and whether the name holds such a connection,
; is decided in Rust. The pattern starts at the statement, whose `with`
; keyword is what the rule looks for in the text.
(with_statement
  (with_clause
    (with_item
      value: [
        (call) @call
        (as_pattern . (call) @call)
        (identifier) @name
        (as_pattern . (identifier) @name)
      ])))
