//! OpenStack: credentials (`config`: clouds.yaml, secure.yaml, OS_* variables), an
//! authenticated session with catalog lookup (`session`), and Cinder volume types
//! (`cinder`), all over reqwest (rustls) with typed request and reply structs; and the files
//! kolla-ansible needs to use the cluster (`export`).

pub mod cinder;
pub mod config;
pub mod export;
pub mod session;
