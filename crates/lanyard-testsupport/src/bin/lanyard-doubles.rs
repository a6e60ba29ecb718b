//! `lanyard-doubles`: starts Lanyard's test doubles from the command line, for demos and manual testing.
//!
//! ```text
//! cargo run -p lanyard-testsupport --bin lanyard-doubles -- azure
//! cargo run -p lanyard-testsupport --bin lanyard-doubles -- gcp
//! ```
//!
//! `azure` starts the Azure Key Vault double ([`lanyard_testsupport::AzureKeyVault`]) on a free port of 127.0.0.1,
//! prints its URL, the CA file to trust, the app's credentials and the `CREATE CREDENTIAL STORAGE … TYPE = AZURE`
//! statement to paste into `lanyard sql`, plus how to add a secret with curl. `gcp` starts the Secret Manager double
//! ([`lanyard_testsupport::GcpSecretManager`]) and prints its endpoint, token URI, project, service account and key
//! file, the `CREATE CREDENTIAL STORAGE … TYPE = GCP` statement, and how to get a token (a JWT signed with openssl)
//! and add a version with curl. Each serves until Ctrl-C (or end of input).

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Read;
use std::process::ExitCode;

use lanyard_testsupport::{AzureKeyVault, GcpSecretManager};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["azure"] => azure(),
        ["gcp"] => gcp(),
        _ => {
            eprintln!(
                "usage: lanyard-doubles azure|gcp\n\nstarts the Azure Key Vault double or the GCP Secret Manager double \
                 on 127.0.0.1 until Ctrl-C"
            );
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
    serve_until_end_of_input(double)
}

fn gcp() -> ExitCode {
    let double = GcpSecretManager::start();
    let url = double.url();
    let token_uri = double.token_uri();
    let key = double.key_file().display();
    let email = double.client_email();
    let project = double.project_id();
    println!("GCP Secret Manager double (v1 REST API and OAuth 2.0 token endpoint) listening on {url}");
    println!();
    println!("  endpoint         {url}   (API under {url}/v1/)");
    println!("  token URI        {token_uri}");
    println!("  project          {project} (number {})", double.project_number());
    println!("  client email     {email}");
    println!("  key file         {key}   (mode 0600)");
    println!();
    println!("Create a credential storage on it (paste into `lanyard sql`):");
    println!();
    println!("  CREATE CREDENTIAL STORAGE gcp_demo TYPE = GCP OPTIONS ({});", double.storage_options_sql());
    println!();
    println!("Add a secret straight into the double (a token first: a JWT signed with the key, needs openssl and jq):");
    println!();
    println!("  b64() {{ openssl base64 -A | tr '+/' '-_' | tr -d '='; }}; NOW=$(date +%s)");
    println!(
        "  JWT=$(printf '{{\"alg\":\"RS256\",\"typ\":\"JWT\"}}' | b64).$(printf '{{\"iss\":\"{email}\",\"aud\":\"{token_uri}\",\
         \"scope\":\"https://www.googleapis.com/auth/cloud-platform\",\"iat\":%s,\"exp\":%s}}' $NOW $((NOW + 3600)) | b64)"
    );
    println!("  JWT=$JWT.$(printf %s $JWT | openssl dgst -sha256 -sign <(jq -r .private_key {key}) | b64)");
    println!(
        "  TOKEN=$(curl -s {token_uri} -d grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer -d assertion=$JWT | \
         jq -r .access_token)"
    );
    println!(
        "  curl -s -H \"Authorization: Bearer $TOKEN\" '{url}/v1/projects/{project}/secrets?secretId=demo-login' \\\n      \
         -H 'Content-Type: application/json' -d '{{\"replication\":{{\"automatic\":{{}}}}}}'"
    );
    println!(
        "  curl -s -H \"Authorization: Bearer $TOKEN\" '{url}/v1/projects/{project}/secrets/demo-login:addVersion' \\\n      \
         -H 'Content-Type: application/json' \
         -d \"{{\\\"payload\\\":{{\\\"data\\\":\\\"$(printf '{{\"user\":\"app\",\"password\":\"demo\"}}' | base64 -w0)\\\"}}}}\""
    );
    println!();
    println!(
        "then: CREATE CREDENTIAL demo TYPE = CREDENTIAL LINKED EXTERNAL SECRET 'demo-login#password' IN CREDENTIAL STORAGE gcp_demo;"
    );
    println!();
    serve_until_end_of_input(double)
}

/// Says so, then serves until standard input closes (Ctrl-D) or the process is interrupted (Ctrl-C ends it, and the
/// double); the double stops when it is dropped.
fn serve_until_end_of_input<T>(double: T) -> ExitCode {
    println!("Serving until Ctrl-C or end of input.");
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(double);
    ExitCode::SUCCESS
}
