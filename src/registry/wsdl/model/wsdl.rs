//! The top level of `<wsdl:definitions>`: messages, port types, bindings and services.

use super::*;

fn wsdl_children<'a, 'i>(node: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children()
        .filter(|n| n.is_element() && n.tag_name().namespace() == Some(WSDL))
}

/// The WSDL children of `node` named `name`.
fn named<'a, 'i>(node: Node<'a, 'i>, name: &'static str) -> impl Iterator<Item = Node<'a, 'i>> {
    wsdl_children(node).filter(move |n| n.tag_name().name() == name)
}

fn soap_child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<(Node<'a, 'i>, SoapVersion)> {
    node.children().find_map(|n| {
        if !n.is_element() || n.tag_name().name() != name {
            return None;
        }
        match n.tag_name().namespace() {
            Some(SOAP11_BINDING) => Some((n, SoapVersion::V11)),
            Some(SOAP12_BINDING) => Some((n, SoapVersion::V12)),
            _ => None,
        }
    })
}

/// Reads the top level of `<wsdl:definitions>` (except `types` and `import`, which the loader
/// follows) into `out`.
pub(crate) fn definitions(
    root: Node,
    file: &Arc<str>,
    out: &mut Definitions,
) -> Result<(), Problem> {
    let document = Document {
        file,
        target: root.attribute("targetNamespace").unwrap_or(""),
    };
    for child in wsdl_children(root) {
        match child.tag_name().name() {
            "message" => {
                let message = document.message(child)?;
                out.messages.insert(document.global(child)?, message);
            }
            "portType" => {
                let port_type = document.port_type(child)?;
                out.port_types.insert(document.global(child)?, port_type);
            }
            "binding" => {
                let (binding, name) = document.binding(child)?;
                out.bindings.insert(name, binding);
            }
            "service" => out.services.push(document.service(child)?),
            _ => {}
        }
    }
    Ok(())
}

/// One WSDL document being read.
struct Document<'f, 't> {
    file: &'f Arc<str>,
    target: &'t str,
}

impl Document<'_, '_> {
    fn pos(&self, node: Node) -> Pos {
        pos_of(self.file, node)
    }

    fn name_of(&self, node: Node) -> Result<String, Problem> {
        let needs = || format!("`{}` needs a `name`", node.tag_name().name());
        (node.attribute("name").map(str::to_owned))
            .ok_or_else(|| Problem::new(self.pos(node), needs()))
    }

    /// The qualified name of a top-level component.
    fn global(&self, node: Node) -> Result<QName, Problem> {
        Ok(QName::new(self.target, &self.name_of(node)?))
    }

    fn qname(&self, node: Node, value: &str) -> Result<QName, Problem> {
        resolve_qname(node, value, "", self.file)
    }

    fn message(&self, message: Node) -> Result<WsdlMessage, Problem> {
        let mut parts = Vec::new();
        for part in named(message, "part") {
            let reference = |attribute| {
                let value = part.attribute(attribute);
                value.map(|v| self.qname(part, v)).transpose()
            };
            parts.push(Part {
                name: self.name_of(part)?,
                element: reference("element")?,
                ty: reference("type")?,
                pos: self.pos(part),
            });
        }
        Ok(WsdlMessage { parts })
    }

    fn port_type(&self, port_type: Node) -> Result<PortType, Problem> {
        let mut operations = Vec::new();
        for op in named(port_type, "operation") {
            let message = |kind: &'static str| -> Result<Option<QName>, Problem> {
                named(op, kind)
                    .next()
                    .and_then(|n| n.attribute("message").map(|m| self.qname(n, m)))
                    .transpose()
            };
            let mut faults = Vec::new();
            for fault in named(op, "fault") {
                if let Some(m) = fault.attribute("message") {
                    faults.push((self.name_of(fault)?, self.qname(fault, m)?));
                }
            }
            operations.push(OperationDef {
                name: self.name_of(op)?,
                input: message("input")?,
                output: message("output")?,
                faults,
                doc: documentation(op),
                pos: self.pos(op),
            });
        }
        Ok(PortType { operations })
    }

    /// A binding and its name.
    fn binding(&self, binding: Node) -> Result<(Binding, QName), Problem> {
        let port_type = binding.attribute("type").ok_or_else(|| {
            Problem::new(self.pos(binding), "a binding needs a `type`".to_owned())
        })?;
        let soap = soap_child(binding, "binding");
        let style = match soap.and_then(|(n, _)| n.attribute("style")) {
            Some("rpc") => Style::Rpc,
            _ => Style::Document,
        };
        let mut operations = Vec::new();
        for op in named(binding, "operation") {
            let soap_op = soap_child(op, "operation").map(|(n, _)| n);
            operations.push(BindingOperation {
                name: self.name_of(op)?,
                action: soap_op
                    .and_then(|n| n.attribute("soapAction"))
                    .filter(|a| !a.is_empty())
                    .map(str::to_owned),
                style: match soap_op.and_then(|n| n.attribute("style")) {
                    Some("rpc") => Some(Style::Rpc),
                    Some("document") => Some(Style::Document),
                    _ => None,
                },
                input: self.body_binding(op, "input")?,
                output: self.body_binding(op, "output")?,
                pos: self.pos(op),
            });
        }
        let name = self.global(binding)?;
        let made = Binding {
            port_type: self.qname(binding, port_type)?,
            soap: soap.map(|(_, v)| v),
            style,
            operations,
            pos: self.pos(binding),
        };
        Ok((made, name))
    }

    /// How the `kind` (`input` or `output`) of a bound operation is written: its `soap:body`
    /// and `soap:header`s.
    fn body_binding(&self, op: Node, kind: &'static str) -> Result<BodyBinding, Problem> {
        let mut binding = BodyBinding::default();
        let Some(io) = named(op, kind).next() else {
            return Ok(binding);
        };
        if let Some((body, _)) = soap_child(io, "body") {
            binding.encoded = body.attribute("use") == Some("encoded");
            binding.namespace = body.attribute("namespace").map(str::to_owned);
            binding.parts = body
                .attribute("parts")
                .map(|p| p.split_whitespace().map(str::to_owned).collect());
        }
        let soap_headers = io.children().filter(|n| {
            n.is_element()
                && n.tag_name().name() == "header"
                && matches!(
                    n.tag_name().namespace(),
                    Some(SOAP11_BINDING | SOAP12_BINDING)
                )
        });
        for header in soap_headers {
            if header.attribute("use") == Some("encoded") {
                binding.encoded = true;
            }
            let needs = |what| (self.pos(header), format!("soap:header needs a `{what}`"));
            let message = header
                .attribute("message")
                .ok_or_else(|| needs("message"))?;
            let part = header.attribute("part").ok_or_else(|| needs("part"))?;
            (binding.headers).push((self.qname(header, message)?, part.to_owned()));
        }
        Ok(binding)
    }

    fn service(&self, service: Node) -> Result<Service, Problem> {
        let mut ports = Vec::new();
        for port in named(service, "port") {
            let binding = port.attribute("binding").ok_or_else(|| {
                Problem::new(self.pos(port), "a port needs a `binding`".to_owned())
            })?;
            ports.push(Port {
                name: self.name_of(port)?,
                binding: self.qname(port, binding)?,
                address: soap_child(port, "address")
                    .and_then(|(n, _)| n.attribute("location"))
                    .map(str::to_owned),
                pos: self.pos(port),
            });
        }
        Ok(Service {
            name: self.name_of(service)?,
            ports,
            pos: self.pos(service),
        })
    }
}
