//! The SOAP backend's builder: the WSDL imported into the pool as a service, and the port's
//! address, headers, WS-Security, basic auth and fault-code table checked.

use std::collections::HashMap;
use std::sync::Arc;

use super::{SoapSettings, WsSecurity};
use crate::backend::build::{
    checked_address, connect_timeout, tls_settings, BackendSettings, BuildContext, Built, Protocol,
    Written,
};
use crate::config::{
    self, BackendConfig, BackendProtocol, Diagnostic, Diagnostics, Located, SoapConfig,
};
use crate::registry::wsdl::build::{Built as WsdlBuilt, Choice};
use crate::registry::wsdl::{self, Location};

pub(crate) struct Soap;

impl Protocol for Soap {
    fn protocol(&self) -> BackendProtocol {
        BackendProtocol::Soap
    }

    fn own_keys<'b>(&self, backend: &'b BackendConfig) -> Vec<(&'b Located<String>, String)> {
        let message = "`soap` settings belong to a backend with `protocol: soap`";
        (backend.soap.iter())
            .map(|soap| (&soap.wsdl, message.into()))
            .collect()
    }

    fn build(
        &self,
        cx: &mut BuildContext<'_, '_>,
        written: &Written<'_>,
        diags: &mut Diagnostics,
    ) -> Option<Built> {
        let backend = written.backend;
        let Some(soap) = &backend.soap else {
            diags.push(Diagnostic::at(
                &written.pos(&backend.protocol),
                "a SOAP backend needs `soap: {wsdl: <path or URL>}`",
            ));
            return None;
        };
        let wsdl_pos = written.pos(&soap.wsdl);
        let built = import(cx, written, soap, diags)?;
        let address = match (&backend.address, &built.address) {
            (Some(a), _) => checked_address(written.config, a, written.pos(a), diags)?,
            (None, Some(a)) if a.starts_with("http://") || a.starts_with("https://") => a.clone(),
            _ => {
                diags.push(Diagnostic::at(
                    &wsdl_pos,
                    "the WSDL's port has no http(s) soap:address; give the backend an `address`",
                ));
                return None;
            }
        };
        let port = port_settings(written, soap, diags)?;
        let service = Arc::new(built.service);
        let settings = SoapSettings {
            address,
            service: service.clone(),
            pool: cx.pool.clone(),
            headers: port.headers,
            ws_security: port.ws_security,
            basic_auth: port.basic_auth,
            fault_codes: port.fault_codes,
            tls: tls_settings(written, diags)?,
            connect_timeout: connect_timeout(backend),
            max_response: cx.connector.max_body,
        };
        let settings = BackendSettings::Soap(Arc::new(settings));
        let soap = Some((built.service_name, service));
        cx.shared(BackendProtocol::Soap, settings, &wsdl_pos, soap, diags)
    }
}

/// Loads the WSDL and adds the service it becomes to the pool.
fn import(
    cx: &mut BuildContext<'_, '_>,
    written: &Written<'_>,
    soap: &SoapConfig,
    diags: &mut Diagnostics,
) -> Option<WsdlBuilt> {
    let config = written.config;
    let wsdl_pos = written.pos(&soap.wsdl);
    let expanded = |l: &Option<Located<String>>, diags: &mut Diagnostics| match l {
        Some(l) => config::expand(l, written.pos(l), &config.vars, diags).map(Some),
        None => Some(None),
    };
    let wsdl = config::expand(&soap.wsdl, wsdl_pos.clone(), &config.vars, diags)?;
    let service_name = expanded(&soap.service, diags)?;
    let port_name = expanded(&soap.port, diags)?;
    let location = Location::Path(written.dir.join("gateway.yaml"))
        .join(&wsdl)
        .map_err(|e| diags.push(Diagnostic::at(&wsdl_pos, e.to_string())))
        .ok()?;
    let loaded = wsdl::load(&config.files, location.clone(), &wsdl_pos, diags)?;
    let package = match &soap.package {
        Some(p) => p.value.clone(),
        None => format!(
            "soap.{}",
            wsdl::build::sanitize(&location.stem()).to_ascii_lowercase()
        ),
    };
    let choice = Choice {
        package: &package,
        service: service_name.as_deref(),
        port: port_name.as_deref(),
        at: &wsdl_pos,
    };
    let mut built = match wsdl::build::build(&loaded, &choice) {
        Ok(built) => built,
        Err(problem) => {
            diags.push(problem.into());
            return None;
        }
    };
    for warning in std::mem::take(&mut built.warnings) {
        diags.warn(warning.into());
    }
    if cx.pool.get_file_by_name(built.file.name()).is_some() {
        let at = soap
            .package
            .as_ref()
            .map_or(wsdl_pos.clone(), |p| written.pos(p));
        diags.push(Diagnostic::at(
            &at,
            format!(
                "package `{package}` is already used by another SOAP backend; give this one its own `soap.package`"
            ),
        ));
        return None;
    }
    if let Err(e) = cx
        .pool
        .add_file_descriptor_proto(std::mem::take(&mut built.file))
    {
        diags.push(Diagnostic::at(
            &wsdl_pos,
            format!("the WSDL's types cannot be registered: {e}"),
        ));
        return None;
    }
    Some(built)
}

/// What gateway.yaml adds to every call of the port.
struct PortSettings {
    headers: Vec<String>,
    ws_security: Option<WsSecurity>,
    basic_auth: Option<(String, String)>,
    fault_codes: HashMap<String, crate::status::Code>,
}

/// The port's headers, credentials and fault codes, checked.
fn port_settings(
    written: &Written<'_>,
    soap: &SoapConfig,
    diags: &mut Diagnostics,
) -> Option<PortSettings> {
    let config = written.config;
    let pos = |l: &Located<String>| written.pos(l);
    let mut headers = Vec::new();
    for header in &soap.headers {
        let text = config::expand(header, pos(header), &config.vars, diags)?;
        if let Err(e) = crate::xml::write::checked_fragment(&text) {
            diags.push(Diagnostic::at(&pos(header), e.to_string()));
            return None;
        }
        headers.push(text);
    }
    let secret = |l: &Located<String>, diags: &mut Diagnostics| {
        config::secret(l, pos(l), written.dir, &config.files, &config.vars, diags)
    };
    let ws_security = match &soap.ws_security {
        Some(ws) => Some(WsSecurity {
            username: config::expand(&ws.username, pos(&ws.username), &config.vars, diags)?,
            password: secret(&ws.password, diags)?,
            digest: ws.digest,
        }),
        None => None,
    };
    let basic_auth = match &soap.basic_auth {
        Some(basic) => Some((
            config::expand(&basic.username, pos(&basic.username), &config.vars, diags)?,
            secret(&basic.password, diags)?,
        )),
        None => None,
    };
    let mut fault_codes = HashMap::new();
    for (fault, code) in &soap.fault_codes {
        match crate::status::code_by_name(code) {
            Some(c) => {
                fault_codes.insert(fault.clone(), c);
            }
            None => diags.push(Diagnostic::at(
                &pos(code),
                format!(
                    "`{}` is not a canonical code (one of {})",
                    code.value,
                    crate::status::CODE_NAMES.join(", ")
                ),
            )),
        }
    }
    Some(PortSettings {
        headers,
        ws_security,
        basic_auth,
        fault_codes,
    })
}
