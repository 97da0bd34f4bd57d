//! `cargo run --release -p tidings-local`: Tidings on this machine, no AWS needed.
//! `… -- create-key --tenant acme`: a tenant's first API key, written to the AWS table.
//! `… -- status`: how full the deliveries and dead-letter queues on SQS (or moto) are.

use std::net::{IpAddr, SocketAddr};

use clap::{Parser, Subcommand};
use tidings::config::{AwsResources, Config};
use tidings::domain::{Role, TenantId};
use tidings::services::{api_keys, deliveries, signing_keys};
use tidings_aws::sdk::{self as aws, QueueSettings};
use tidings_local::{self as local, Options, Storage, status};

// Many small allocations on many threads (a delivery's message, record and request), many
// freed on the other worker: jemalloc's per-thread caches instead of glibc's contended arenas
// (and of mimalloc, which paid more for the blocks freed across threads).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    version,
    about = "Runs Tidings locally: the HTTP API and a dispatcher in one process"
)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Port for the HTTP API.
    #[arg(long, env = "PORT", default_value_t = 3000)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Use SQS, DynamoDB and KMS (named by TIDINGS_TABLE, TIDINGS_DELIVERY_QUEUE_URL,
    /// TIDINGS_DEAD_LETTER_QUEUE_URL and TIDINGS_KMS_KEY_ID) instead of the embedded backend.
    /// Implied by AWS_ENDPOINT_URL.
    #[arg(long)]
    aws: bool,
    /// The development API key to accept (admin of tenant "dev"); random when unset.
    #[arg(long, env = "TIDINGS_DEV_API_KEY", hide_env_values = true)]
    dev_api_key: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Creates an API key in the DynamoDB table named by TIDINGS_TABLE, with your own AWS
    /// credentials, and prints it once. This is how a tenant gets its first admin key.
    CreateKey {
        #[arg(long)]
        tenant: String,
        /// admin (everything in the tenant) or ingest (post events only).
        #[arg(long, default_value = "admin")]
        role: Role,
        /// A note to recognise the key by.
        #[arg(long)]
        name: Option<String>,
    },
    /// Moves every dead letter back to the deliveries queue (TIDINGS_DEAD_LETTER_QUEUE_URL):
    /// with SQS's StartMessageMoveTask on AWS, one by one where it is missing (moto).
    RedriveDeadLetters,
    /// Seals every subscription secret, signing key and deployment RSA key still stored in
    /// the clear (written before secrets were encrypted at rest) in the table named by TIDINGS_TABLE, with the
    /// KMS key TIDINGS_KMS_KEY_ID, and prints the counts. Needs dynamodb:Scan and
    /// dynamodb:UpdateItem on the table, kms:GenerateDataKey and kms:Decrypt on the key. Safe
    /// to run again, and while the service runs.
    ReencryptSecrets,
    /// Puts a new RSA key in charge of the deployment's Saleor JWS signatures (the table
    /// named by TIDINGS_TABLE); the old key stays in /.well-known/jwks.json for the overlap.
    RotateSigningKey {
        /// How long the old key stays published, in seconds. Dispatchers re-read the keys
        /// every minute and receivers cache key sets for minutes (jose: 10), so anything
        /// under about 15 minutes makes some deliveries fail until retried; 0 is for a leak.
        #[arg(long, default_value_t = 86400)]
        overlap_secs: u32,
    },
    /// Creates the table, queues and KMS key, configured as template.yaml configures them, on
    /// an AWS API emulator (AWS_ENDPOINT_URL, e.g. moto) and prints the variables that name
    /// them.
    Provision {
        /// Prefix of the resource names.
        #[arg(long, default_value = "tidings-dev")]
        prefix: String,
    },
    /// Shows the deliveries queue's depth (waiting, in flight), its oldest message's age and
    /// the number of dead letters, for the SQS queues named by TIDINGS_DELIVERY_QUEUE_URL and
    /// TIDINGS_DEAD_LETTER_QUEUE_URL (on AWS, or an emulator at AWS_ENDPOINT_URL). Counts
    /// come from GetQueueAttributes; the age from CloudWatch's ApproximateAgeOfOldestMessage,
    /// which SQS's API does not give. The embedded backend lives inside a running
    /// `tidings-local` process, so there is nothing for this command to read there.
    Status {
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// The shortest JWS key overlap that no dispatcher's or receiver's cache outlives.
const SAFE_OVERLAP_SECS: u32 = 15 * 60;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tidings::telemetry::init_local();
    let args = Args::parse();
    match args.command {
        Some(Command::CreateKey { tenant, role, name }) => {
            let tenant = TenantId::parse(&tenant)?;
            let backend = tidings_aws::backend_from_env().await?;
            let (key, plaintext) = api_keys::create(&backend, &tenant, role, name).await?;
            println!("{plaintext}");
            eprintln!(
                "API key {} for tenant {} ({role}); it is shown only this once.",
                key.id, key.tenant
            );
            return Ok(());
        }
        Some(Command::RedriveDeadLetters) => {
            let backend = tidings_aws::backend_from_env().await?;
            match deliveries::redrive_all(&backend).await? {
                None => println!("SQS is moving the dead letters back (StartMessageMoveTask)"),
                Some(n) => println!("moved {n} dead letters back to the deliveries queue"),
            }
            return Ok(());
        }
        Some(Command::ReencryptSecrets) => {
            let resources = AwsResources::from_env()?;
            let store = tidings_aws::dynamo_store(&aws::load().await?, &resources);
            let report = store.reencrypt_secrets().await?;
            println!(
                "sealed {} items (subscriptions, the deployment's signing keys); {} were sealed \
                 already; {} were written meanwhile (and so sealed by that write)",
                report.sealed, report.already_sealed, report.changed_meanwhile
            );
            return Ok(());
        }
        Some(Command::RotateSigningKey { overlap_secs }) => {
            let backend = tidings_aws::backend_from_env().await?;
            let overlap = chrono::Duration::seconds(i64::from(overlap_secs));
            if overlap_secs < SAFE_OVERLAP_SECS {
                eprintln!(
                    "warning: with an overlap under {SAFE_OVERLAP_SECS} s, deliveries signed by \
                     dispatchers still holding the old key (for up to a minute) or checked by \
                     receivers holding an old key set fail until Tidings retries them"
                );
            }
            let keys = signing_keys::rotate(&backend, overlap).await?;
            println!(
                "signing key {} is now current; {} older key(s) still published",
                keys.current.kid(),
                keys.previous.len()
            );
            return Ok(());
        }
        Some(Command::Provision { prefix }) => {
            anyhow::ensure!(
                std::env::var_os("AWS_ENDPOINT_URL").is_some(),
                "provision is for an AWS API emulator: set AWS_ENDPOINT_URL (on AWS, sam deploy creates the resources)"
            );
            let settings = QueueSettings {
                visibility_timeout_secs: local::VISIBILITY_TIMEOUT.as_secs() as u32,
                max_receive_count: Config::from_env()?.retry.max_attempts(),
            };
            let created = aws::provision(&aws::load().await?, &prefix, settings)
                .await
                .map_err(|e| anyhow::anyhow!(e))?;
            println!("export TIDINGS_TABLE={}", created.table);
            println!(
                "export TIDINGS_DELIVERY_QUEUE_URL={}",
                created.delivery_queue_url
            );
            println!(
                "export TIDINGS_DEAD_LETTER_QUEUE_URL={}",
                created.dead_letter_queue_url
            );
            println!("export TIDINGS_KMS_KEY_ID={}", created.kms_key_id);
            return Ok(());
        }
        Some(Command::Status { json }) => {
            let resources = tidings::config::AwsResources::from_env()?;
            let sdk = aws::load().await?;
            let backend = tidings_aws::backend(&sdk, &resources);
            let age = status::AgeMetric::new(&sdk, &resources.delivery_queue_url);
            let status = status::read(&backend, Some(&age)).await?;
            if json {
                println!("{}", status.to_json());
            } else {
                println!("{status}");
            }
            return Ok(());
        }
        None => {}
    }
    let storage = if args.aws || std::env::var_os("AWS_ENDPOINT_URL").is_some() {
        Storage::Aws(tidings_aws::backend_from_env().await?)
    } else {
        Storage::Embedded
    };
    let mut running = local::start(Options {
        addr: SocketAddr::new(args.host, args.port),
        storage,
        dev_api_key: args.dev_api_key,
        config: Config::from_env()?,
    })
    .await?;
    println!("Tidings is listening on {}", running.base_url());
    println!(
        "Development API key (tenant \"{}\"): {}",
        local::DEV_TENANT,
        running.api_key
    );
    tokio::select! {
        _ = running.wait() => {}
        _ = tokio::signal::ctrl_c() => println!("stopping"),
    }
    Ok(())
}
