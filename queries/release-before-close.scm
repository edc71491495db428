; `x.close()` on a plain name: candidate close sites. Whether `x` holds a
; tracked connection is decided in Rust, by following the scope's bindings.
(call
  function: (attribute
    object: (identifier) @object
    attribute: (identifier) @method)
  (#eq? @method "close")) @close

