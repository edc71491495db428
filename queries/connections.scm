; Calls of a configured connection helper (`get_db_connection()`,
; `self.get_db_connection()`); @HELPERS@ is replaced by the configured names'
; last dotted parts when the analysis is built.
(call
  function: [
    (identifier) @helper_name
    (attribute attribute: (identifier) @helper_name)
  ]
  (#any-of? @helper_name @HELPERS@)) @call
