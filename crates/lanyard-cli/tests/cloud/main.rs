//! End to end against the cloud vault backends' real servers, through the real `lanyard serve` and `lanyard sql`:
//! one module per backend.

mod hashicorp;
