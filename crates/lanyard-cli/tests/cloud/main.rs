//! End to end for the cloud vault backends: the real `lanyard sql` binary against a real `lanyard serve` process, one
//! module per backend, each against its real server or faithful double.

mod aws;
