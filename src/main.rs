//! The `merchant-crm` command: serve the portal (default), migrate, manage users.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use merchant_crm::config::{Config, Overrides};
use merchant_crm::db::Database;
use merchant_crm::domain::accounts::users::{self, Role};
use merchant_crm::domain::{accounts::passwords, Actor};
use merchant_crm::error::AppError;
use merchant_crm::Application;

#[derive(Parser)]
#[command(name = "merchant-crm", version, about = "CRM portal for ClickBank merchants")]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Args, Clone, Default)]
struct Common {
    /// Data folder (SQLite file, generated keys) [env: MERCHANT_CRM_DATA_DIR] [default: ./data]
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Database URL: postgres://... or a SQLite file path [env: DATABASE_URL]
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// A file of KEY=VALUE settings [env: MERCHANT_CRM_CONFIG]
    #[arg(long, global = true)]
    config: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the portal (the default command).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage portal users.
    #[command(subcommand)]
    User(UserCommand),
    /// A first look: the portal plus a built-in ClickBank sandbox, connected and importing.
    Demo(DemoArgs),
    /// Run a local ClickBank (REST API, INS sender, seeded data) for demos and tests.
    Sandbox(merchant_crm::clickbank::SandboxArgs),
    /// ClickBank tools.
    #[command(subcommand)]
    Clickbank(ClickbankCommand),
    /// Manage ClickBank plugins (data sources).
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Manage API users (machine logins for ClickBank INS and fulfillment houses).
    #[command(subcommand, name = "api-user")]
    ApiUser(ApiUserCommand),
    /// Developer tools.
    #[command(subcommand)]
    Dev(DevCommand),
}

#[derive(Subcommand)]
enum DevCommand {
    /// Fill the database with generated ClickBank orders (for benchmarks and trying the
    /// portal at scale) under a plugin named "Seed".
    Seed {
        /// How many orders
        #[arg(long, default_value_t = 100_000)]
        orders: u64,
    },
}

#[derive(Args)]
struct DemoArgs {
    /// address:port for the portal [env: MERCHANT_CRM_BIND] [default: 127.0.0.1:8080]
    #[arg(long)]
    bind: Option<String>,
    /// Orders in the sandbox's history
    #[arg(long, default_value_t = 3000)]
    orders: usize,
    /// Live ClickBank events per second sent to the portal
    #[arg(long, default_value_t = 0.5)]
    events_per_second: f64,
}

#[derive(Subcommand)]
enum ClickbankCommand {
    /// Decrypt an Instant Notification body (JSON envelope from FILE or stdin) and print it.
    DecryptIns {
        /// The secret key of the ClickBank account (Vendor Settings → Advanced Tools)
        #[arg(long)]
        secret_key: String,
        /// File holding the body; standard input when absent
        file: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Activate a ClickBank data source (keys are checked against ClickBank unless --no-connect).
    CreateClickbank {
        #[arg(long, default_value = "ClickBank")]
        name: String,
        /// ClickBank account nickname
        #[arg(long)]
        site: String,
        #[arg(long)]
        api_key: String,
        #[arg(long)]
        dev_key: Option<String>,
        /// INS secret key (up to 16 of A-Z, 0-9)
        #[arg(long)]
        secret_key: Option<String>,
        #[arg(long)]
        include_test_transactions: bool,
        #[arg(long)]
        unique_products: bool,
        /// Save without checking the keys against ClickBank
        #[arg(long)]
        no_connect: bool,
    },
    /// List plugins.
    List,
}

#[derive(Subcommand)]
enum ApiUserCommand {
    /// Create an API user.
    Create {
        #[arg(long)]
        login_id: String,
        #[arg(
            long,
            conflicts_with = "password_stdin",
            required_unless_present = "password_stdin"
        )]
        password: Option<String>,
        /// Read the password from standard input
        #[arg(long)]
        password_stdin: bool,
        /// An allowed address, CIDR range or keyword (AWS GOOGLE AZURE CLOUDFLARE DIGITAL_OCEAN); repeatable
        #[arg(long = "allow-ip", required = true, num_args = 1..)]
        allow_ip: Vec<String>,
        /// import_order or update_fulfillment; repeatable
        #[arg(long = "permission", required = true, num_args = 1..)]
        permission: Vec<String>,
        /// The fulfillment house (name or number) whose items this user alone may update
        #[arg(long)]
        house: Option<String>,
    },
    /// List API users.
    List,
}

#[derive(Args, Default)]
struct ServeArgs {
    /// address:port to listen on [env: MERCHANT_CRM_BIND] [default: 127.0.0.1:8080]
    #[arg(long)]
    bind: Option<String>,
    /// Run no import scheduler in this process (INS are still received and applied)
    #[arg(long)]
    no_jobs: bool,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user.
    Create {
        #[arg(long)]
        email: String,
        /// admin (account executive) or merchant (merchant staff)
        #[arg(long)]
        role: String,
        /// The password (visible in the process list: prefer --password-stdin)
        #[arg(
            long,
            conflicts_with = "password_stdin",
            required_unless_present = "password_stdin"
        )]
        password: Option<String>,
        /// Read the password from standard input
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn overrides(common: &Common, bind: Option<String>) -> Overrides {
    Overrides {
        bind,
        data_dir: common.data_dir.clone(),
        database_url: common.database_url.clone(),
        config_file: common.config.clone(),
    }
}

fn run(cli: Cli) -> Result<(), AppError> {
    match cli.command.unwrap_or(Command::Serve(ServeArgs::default())) {
        Command::Serve(args) => {
            let mut config = Config::load(&overrides(&cli.common, args.bind))?;
            config.jobs &= !args.no_jobs;
            serve(config)
        }
        Command::Migrate => {
            let config = Config::load(&overrides(&cli.common, None))?;
            let db = Database::connect(&config.database_url, 1)?;
            let applied = db.migrate()?;
            if applied.is_empty() {
                println!("{} database is up to date", db.backend.name());
            } else {
                for v in applied {
                    println!("applied {v}");
                }
            }
            Ok(())
        }
        Command::User(cmd) => {
            let (_, db) = migrated_db(&cli.common)?;
            user_command(&db, cmd)
        }
        Command::Demo(args) => {
            let mut o = overrides(&cli.common, args.bind);
            // The demo keeps its data apart from a real portal's unless told otherwise.
            o.data_dir = o.data_dir.or_else(|| Some(PathBuf::from("./data/demo")));
            let config = Config::load(&o)?;
            actix_web::rt::System::new().block_on(async move {
                let demo = merchant_crm::demo::start(config, args.orders, args.events_per_second).await?;
                println!("merchant-crm demo is running: {}", demo.url);
                println!("  sign in as {} with password {}", demo.email, demo.password);
                println!("  ClickBank sandbox: {} (site {})", demo.sandbox.base_url(), demo.sandbox.site());
                println!("  90 days of orders are importing (Admin → Import tasks); live notifications keep arriving.");
                println!("  Ctrl-C stops both.");
                demo.app.run_until_stopped().await.map_err(|e| AppError::Internal(format!("server stopped: {e}")))
            })
        }
        Command::Sandbox(args) => actix_web::rt::System::new()
            .block_on(merchant_crm::clickbank::run_sandbox(args))
            .map_err(|e| AppError::Config(format!("sandbox: {e}"))),
        Command::Clickbank(ClickbankCommand::DecryptIns { secret_key, file }) => {
            let body = match &file {
                Some(path) => std::fs::read(path)
                    .map_err(|e| AppError::Validation(format!("cannot read {}: {e}", path.display())))?,
                None => {
                    let mut b = Vec::new();
                    std::io::stdin()
                        .read_to_end(&mut b)
                        .map_err(|e| AppError::Validation(format!("cannot read standard input: {e}")))?;
                    b
                }
            };
            let json = merchant_crm::clickbank::decrypt_ins_to_pretty_json(&secret_key, &body)
                .map_err(|e| AppError::Validation(e.to_string()))?;
            println!("{json}");
            Ok(())
        }
        Command::Plugin(cmd) => {
            let (config, db) = migrated_db(&cli.common)?;
            plugin_command(&config, &db, cmd)
        }
        Command::ApiUser(cmd) => {
            let (_, db) = migrated_db(&cli.common)?;
            api_user_command(&db, cmd)
        }
        Command::Dev(DevCommand::Seed { orders }) => {
            let (config, db) = migrated_db(&cli.common)?;
            let secrets = merchant_crm::secrets::SecretBox::new(&config.master_key)?;
            let started = std::time::Instant::now();
            let r = merchant_crm::dev::seed(&db, &secrets, orders)?;
            println!(
                "seeded {} orders, {} customers, {} abandoned carts in {:.1} s (plugin \"Seed\", id {})",
                r.orders,
                r.customers,
                r.partials,
                started.elapsed().as_secs_f64(),
                r.plugin_id
            );
            println!(
                "  {} has {} orders",
                merchant_crm::dev::FIFTY_EMAIL,
                merchant_crm::dev::FIFTY
            );
            Ok(())
        }
    }
}

/// Settings and a one-connection, migrated database for a management command.
fn migrated_db(common: &Common) -> Result<(Config, Database), AppError> {
    let config = Config::load(&overrides(common, None))?;
    let db = Database::connect(&config.database_url, 1)?;
    db.migrate()?;
    Ok((config, db))
}

/// The password from --password or standard input.
fn password_arg(password: Option<String>, from_stdin: bool) -> Result<String, AppError> {
    match password {
        Some(p) => Ok(p),
        None if from_stdin => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| AppError::Validation(format!("cannot read the password from stdin: {e}")))?;
            Ok(s.trim_end_matches(['\r', '\n']).to_string())
        }
        None => Err(AppError::Validation("give --password or --password-stdin".into())),
    }
}

fn plugin_command(config: &Config, db: &Database, cmd: PluginCommand) -> Result<(), AppError> {
    use merchant_crm::domain::plugins;
    let secrets = merchant_crm::secrets::SecretBox::new(&config.master_key)?;
    match cmd {
        PluginCommand::CreateClickbank {
            name,
            site,
            api_key,
            dev_key,
            secret_key,
            include_test_transactions,
            unique_products,
            no_connect,
        } => {
            let input = plugins::PluginInput::new(
                &name,
                &site,
                dev_key.as_deref().unwrap_or(""),
                &api_key,
                secret_key.as_deref().unwrap_or(""),
                include_test_transactions,
                false,
                unique_products,
                false,
            )?;
            if !no_connect {
                let api = plugins::client_for(&input.keys, &config.clickbank_api_base)?;
                actix_web::rt::System::new().block_on(plugins::connect_check(api.as_ref(), &input.site))?;
            }
            let mut conn = db.conn()?;
            let p = plugins::create(&mut conn, &Actor::cli(), &secrets, &input, !no_connect)?;
            println!(
                "activated plugin {} (site {}){}",
                p.name,
                p.site,
                if no_connect {
                    ", keys not checked"
                } else {
                    ", connected to ClickBank"
                }
            );
        }
        PluginCommand::List => {
            let mut conn = db.conn()?;
            println!(
                "{:<6} {:<20} {:<16} {:<11} {:<5} unique products",
                "id", "name", "site", "status", "test"
            );
            for p in plugins::list(&mut conn)? {
                println!(
                    "{:<6} {:<20} {:<16} {:<11} {:<5} {}",
                    p.id,
                    p.name,
                    p.site,
                    if p.active { "active" } else { "deactivated" },
                    if p.include_test { "yes" } else { "no" },
                    if p.unique_products { "yes" } else { "no" }
                );
            }
        }
    }
    Ok(())
}

fn api_user_command(db: &Database, cmd: ApiUserCommand) -> Result<(), AppError> {
    use diesel::Connection;
    use merchant_crm::domain::accounts::api_users;
    let mut conn = db.conn()?;
    match cmd {
        ApiUserCommand::Create {
            login_id,
            password,
            password_stdin,
            allow_ip,
            permission,
            house,
        } => {
            let password = password_arg(password, password_stdin)?;
            let perms = api_users::parse_permissions(permission.iter().map(String::as_str))?;
            let input = api_users::ApiUserInput::new(&login_id, &allow_ip.join(" "), perms)?;
            passwords::validate(&password)?;
            let hash = passwords::hash(&password)?;
            // The user and its house in one transaction: an unknown house creates nothing.
            let (u, house) = conn.transaction(|c| {
                let house = house
                    .as_deref()
                    .map(|h| merchant_crm::domain::fulfillment::houses::find_by_name_or_id(c, h))
                    .transpose()?;
                let u = api_users::create(c, &Actor::cli(), &input, &hash)?;
                if let Some(h) = &house {
                    api_users::set_house(c, &Actor::cli(), u.id, Some(h.id))?;
                }
                Ok::<_, AppError>((u, house))
            })?;
            let only = house
                .map(|h| format!("; updates only {}'s items", h.name))
                .unwrap_or_default();
            println!(
                "created API user {} (allow: {}; permissions: {}{only})",
                u.login_id, u.allow_ips, u.permissions
            );
        }
        ApiUserCommand::List => {
            println!(
                "{:<24} {:<9} {:<30} allowed IPs",
                "login id", "status", "permissions"
            );
            for u in api_users::list(&mut conn)? {
                let status = if u.disabled { "disabled" } else { "active" };
                println!(
                    "{:<24} {:<9} {:<30} {}",
                    u.login_id, status, u.permissions, u.allow_ips
                );
            }
        }
    }
    Ok(())
}

fn serve(config: Config) -> Result<(), AppError> {
    let rt = actix_web::rt::System::new();
    rt.block_on(async move {
        tracing::info!(?config, "starting merchant-crm");
        let app = Application::build(config.clone())?;
        let url = format!("http://{}", config.bind);
        println!(
            "merchant-crm is serving {url} on {}",
            merchant_crm::config::redact_url(&config.database_url)
        );
        let db = Database::connect(&config.database_url, 1)?;
        let open = db.run(users::setup_open).await?;
        if open {
            println!("No users yet: open {url}/setup to create the first account executive.");
        }
        app.run_until_stopped()
            .await
            .map_err(|e| AppError::Internal(format!("server stopped: {e}")))
    })
}

fn user_command(db: &Database, cmd: UserCommand) -> Result<(), AppError> {
    let mut conn = db.conn()?;
    match cmd {
        UserCommand::Create {
            email,
            role,
            password,
            password_stdin,
        } => {
            let role = Role::parse(&role)?;
            let email = users::normalize_email(&email)?;
            let password = password_arg(password, password_stdin)?;
            passwords::validate(&password)?;
            let hash = passwords::hash(&password)?;
            let user = users::create(&mut conn, &Actor::cli(), &email, &hash, role)?;
            println!("created {} ({})", user.email, user.role().label());
        }
        UserCommand::List => {
            println!(
                "{:<6} {:<40} {:<20} {:<9} last sign-in",
                "id", "email", "role", "status"
            );
            for u in users::list(&mut conn)? {
                println!(
                    "{:<6} {:<40} {:<20} {:<9} {}",
                    u.id,
                    u.email,
                    u.role().label(),
                    if u.disabled { "disabled" } else { "active" },
                    u.last_login_at
                        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                        .unwrap_or_else(|| "never".into())
                );
            }
        }
    }
    Ok(())
}
