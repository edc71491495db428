; Method calls on an ORM session (`db.session.query(...)`); @SESSIONS@ is
; replaced by the configured sessions' last dotted parts when the rule is
; built. The full dotted session name is checked in Rust.
(call
  function: (attribute
    object: [
      (identifier) @session_name
      (attribute attribute: (identifier) @session_name)
    ] @session
    attribute: (identifier) @method)
  (#any-of? @session_name @SESSIONS@)) @call

; Flask-SQLAlchemy's `Model.query.<method>(...)`, which goes through
; `db.session` too; the model's name is checked in Rust (CapWords).
(call
  function: (attribute
    object: (attribute
      object: (identifier) @model
      attribute: (identifier) @query_attribute) @session
    attribute: (identifier) @method)
  (#eq? @query_attribute "query")) @call
