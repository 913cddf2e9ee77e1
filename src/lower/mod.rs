//! Lowering: the validated model ordered into a backend-neutral build graph.
