; Calls of a configured engine factory, plain or through a module
; (`create_engine(...)`, `sqlalchemy.create_engine(...)`). The rule replaces
; @FACTORIES@ with the configured names (their last dotted part) when it is
; built, so the query only ever matches candidate calls.
(call
  function: [
    (identifier) @factory_name
    (attribute attribute: (identifier) @factory_name)
  ]
  (#any-of? @factory_name @FACTORIES@)) @call
