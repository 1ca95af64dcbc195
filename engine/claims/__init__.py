"""Claims of a document: checkable statements found mechanically (and by the model), cross-checked by rules."""
