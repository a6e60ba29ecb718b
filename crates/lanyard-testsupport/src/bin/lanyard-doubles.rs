//! `lanyard-doubles`: starts Lanyard's test doubles from the command line, for demos and manual testing.
//!
//! ```text
//! cargo run -p lanyard-testsupport --bin lanyard-doubles -- azure
//! ```
//!
//! starts the Azure Key Vault double ([`lanyard_testsupport::AzureKeyVault`]) on a free port of 127.0.0.1, prints its
//! URL, the CA file to trust, the app's credentials and the `CREATE CREDENTIAL STORAGE … TYPE = AZURE` statement to
//! paste into `lanyard sql`, plus how to add a secret with curl; it serves until Ctrl-C (or end of input).

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Read;
use std::process::ExitCode;

use lanyard_testsupport::AzureKeyVault;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["azure"] => azure(),
        _ => {
            eprintln!("usage: lanyard-doubles azure\n\nstarts the Azure Key Vault double on 127.0.0.1 until Ctrl-C");
            ExitCode::from(2)
        }
    }
}

fn azure() -> ExitCode {
    let double = AzureKeyVault::start();
    let url = double.url();
    println!("Azure Key Vault double (secrets API and Entra ID token endpoint) listening on {url}");
    println!();
    println!("  vault URL        {url}");
    println!("  authority host   {url}   (token endpoint: {url}/{}/oauth2/v2.0/token)", double.tenant_id());
    println!("  CA certificate   {}", double.ca_file().display());
    println!("  tenant id        {}", double.tenant_id());
    println!("  client id        {}", double.client_id());
    println!("  client secret    {}", double.client_secret());
    println!();
    println!("Create a credential storage on it (paste into `lanyard sql`):");
    println!();
    println!("  CREATE CREDENTIAL STORAGE azure_demo TYPE = AZURE OPTIONS ({});", double.storage_options_sql());
    println!();
    println!("Add a secret straight into the double (a token first, then the secret):");
    println!();
    println!(
        "  TOKEN=$(curl -s --cacert {ca} {url}/{tenant}/oauth2/v2.0/token -d grant_type=client_credentials \\\n      \
         -d client_id={client} -d client_secret='{secret}' -d scope=https://vault.azure.net/.default | \
         sed 's/.*\"access_token\":\"\\([^\"]*\\)\".*/\\1/')",
        ca = double.ca_file().display(),
        tenant = double.tenant_id(),
        client = double.client_id(),
        secret = double.client_secret(),
    );
    println!(
        "  curl -s --cacert {ca} -X PUT -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' \\\n      \
         '{url}/secrets/demo-login?api-version=2025-07-01' -d '{{\"value\":\"{{\\\"user\\\":\\\"app\\\",\\\"password\\\":\\\"demo\\\"}}\"}}'",
        ca = double.ca_file().display(),
    );
    println!();
    println!(
        "then: CREATE CREDENTIAL demo TYPE = CREDENTIAL LINKED EXTERNAL SECRET 'demo-login#password' IN CREDENTIAL STORAGE azure_demo;"
    );
    println!();
    println!("Serving until Ctrl-C or end of input.");
    // Block until standard input closes (Ctrl-D) or the process is interrupted (Ctrl-C ends it, and the double).
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(double);
    ExitCode::SUCCESS
}
