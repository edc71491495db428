; Every function definition, at any depth, decorated or not; the rule keeps
; those named as a configured helper.
(function_definition
  name: (identifier) @name
  body: (block) @body) @function
