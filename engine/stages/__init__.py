"""One module per stage; each stage is a small async function `(task, runtime) -> update`."""
