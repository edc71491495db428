; `x.close()` on a plain name or on an attribute of one (`self.conn.close()`):
; candidate close sites. Whether `x` holds a tracked connection is decided in
; Rust, from the bindings that reach the read (or, for `self.attr`, from the
; class's methods that set it from a helper).
(call
  function: (attribute
    object: [
      (identifier)
      (attribute
        object: (identifier)
        attribute: (identifier))
    ] @object
    attribute: (identifier) @method)
  (#eq? @method "close")) @close
