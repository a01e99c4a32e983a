//! `switchyard user …`: the first admin, and user management from a shell. A password is
//! read from stdin (never from argv, which other users can see) or generated and printed
//! once; there is no default password.

use crate::audit::Actor;
use crate::auth::{password, users};
use clap::Subcommand;
use sqlx::PgPool;
use std::io::BufRead;
use switchyard_app::auth::Role;

#[derive(Subcommand, Debug)]
pub enum UserAction {
    /// Create a user. Prints a generated password once unless --password-stdin is given.
    Add {
        name: String,
        #[arg(long, default_value = "viewer")]
        role: Role,
        /// Read the password from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
        /// Succeed without change when the user already exists.
        #[arg(long)]
        if_missing: bool,
    },
    /// Change a user's role, password or enabled state.
    Set {
        name: String,
        #[arg(long)]
        role: Option<Role>,
        /// Read a new password from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
        /// Generate a new password and print it once.
        #[arg(long, conflicts_with = "password_stdin")]
        new_password: bool,
        #[arg(long, conflicts_with = "enable")]
        disable: bool,
        #[arg(long)]
        enable: bool,
    },
    /// List users and their roles.
    List,
}

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn os_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

pub async fn run(pool: &PgPool, action: UserAction) -> anyhow::Result<()> {
    let by = Actor::cli(format!("cli:{}", os_user()));
    match action {
        UserAction::Add {
            name,
            role,
            password_stdin,
            if_missing,
        } => {
            let (pass, generated) = if password_stdin {
                (read_password()?, false)
            } else {
                (password::generate(), true)
            };
            match users::add(pool, &by, &name, role, &pass).await {
                Ok(()) if generated => {
                    println!("created {role} {name:?} with password: {pass}");
                    println!("(shown once; change it with `switchyard user set {name} --password-stdin`)");
                }
                Ok(()) => println!("created {role} {name:?}"),
                Err(users::UserError::Exists(_)) if if_missing => {
                    println!("user {name:?} exists; unchanged");
                }
                Err(e) => return Err(e.into()),
            }
        }
        UserAction::Set {
            name,
            role,
            password_stdin,
            new_password,
            disable,
            enable,
        } => {
            let pass = if password_stdin {
                Some(read_password()?)
            } else if new_password {
                Some(password::generate())
            } else {
                None
            };
            let disabled = (disable || enable).then_some(disable);
            users::update(pool, &by, &name, role, disabled, pass.as_deref()).await?;
            match pass {
                Some(p) if new_password => println!("updated {name:?}; new password: {p}"),
                _ => println!("updated {name:?}"),
            }
        }
        UserAction::List => {
            for u in users::list(pool).await? {
                let state = if u.disabled { "disabled" } else { "enabled" };
                println!("{:<24} {:<9} {state}", u.name, u.role);
            }
        }
    }
    Ok(())
}
