//! SOAP response envelopes: the body read into its message, or the fault with its code,
//! reason and detail.

use super::*;

/// A SOAP fault as read from a response.
#[derive(Debug)]
pub struct Fault {
    /// The local part of the code (`Client`, `Server.NotFound`, `Sender`, ...).
    pub code: String,
    /// SOAP 1.2: the local part of the first subcode.
    pub subcode: Option<String>,
    pub reason: String,
    /// The detail read by its `wsdl:fault` message, when one matched: the message's full name
    /// and its wire form.
    pub detail: Option<(String, Vec<u8>)>,
    /// The detail as XML text, when none matched.
    pub raw_detail: Option<String>,
}

/// What a response envelope holds.
#[derive(Debug)]
pub enum Response {
    /// The message, in wire form.
    Message(Vec<u8>),
    Fault(Fault),
}

fn is_envelope_ns(ns: &str) -> bool {
    ns == SOAP11_ENV || ns == SOAP12_ENV
}

impl Decoder<'_> {
    /// Reads an envelope: its headers and body into the message of `body`, or its fault.
    /// `faults`: the fault detail elements of the operation and their messages.
    pub fn envelope(
        &self,
        input: &[u8],
        limits: Limits,
        body: &SoapBody,
        faults: &[(QName, String)],
    ) -> Result<Response, XmlError> {
        let mut reader = Reader::new(input, limits)?;
        let envelope = loop {
            match reader.next()? {
                Item::Start(s) => break s,
                Item::Text(t) if t.trim().is_empty() => {}
                _ => return Err(XmlError::new("the document is not a SOAP envelope")),
            }
        };
        if envelope.local != "Envelope" || !is_envelope_ns(&envelope.ns) {
            return Err(XmlError::new(format!(
                "expected a SOAP Envelope, found `{}`",
                envelope.local
            )));
        }
        let xml = self.xml(&body.message)?;
        let mut out = Vec::with_capacity(input.len() / 2);
        loop {
            let section = match reader.next()? {
                Item::Start(s) => s,
                Item::End => return Err(XmlError::new("the envelope has no Body")),
                Item::Text(_) => continue,
            };
            match section.local {
                "Header" => self.content(&mut reader, &section, xml, &[Role::Header], &mut out)?,
                "Body" => {
                    let response = self.body(&mut reader, &section, body, xml, out, faults)?;
                    reader.finish()?;
                    return Ok(response);
                }
                _ => reader.skip(&section)?,
            }
        }
    }

    fn body<'a>(
        &self,
        reader: &mut Reader<'a>,
        section: &Start<'a>,
        body: &SoapBody,
        xml: &XmlMessage,
        mut out: Vec<u8>,
        faults: &[(QName, String)],
    ) -> Result<Response, XmlError> {
        if section.empty {
            return Ok(Response::Message(out));
        }
        loop {
            let child = match reader.next()? {
                Item::End => return Ok(Response::Message(out)),
                Item::Text(_) => continue,
                Item::Start(child) => child,
            };
            if child.local == "Fault" && is_envelope_ns(&child.ns) {
                return self.fault(reader, &child, faults).map(Response::Fault);
            }
            if body.wrapper.is_none() {
                // The parts are the Body's children.
                match xml.find(Role::Element, &child.ns, child.local) {
                    Some(field) => self.field(reader, child, field, &mut out)?,
                    None => reader.skip(&child)?,
                }
                continue;
            }
            self.content(reader, &child, xml, &[Role::Element], &mut out)?;
            // Whatever follows the wrapper is not part of the message.
            loop {
                match reader.next()? {
                    Item::End => return Ok(Response::Message(out)),
                    Item::Start(s) => reader.skip(&s)?,
                    Item::Text(_) => {}
                }
            }
        }
    }

    /// A `Fault` element, SOAP 1.1 or 1.2.
    fn fault<'a>(
        &self,
        reader: &mut Reader<'a>,
        start: &Start<'a>,
        faults: &[(QName, String)],
    ) -> Result<Fault, XmlError> {
        let mut fault = Fault {
            code: String::new(),
            subcode: None,
            reason: String::new(),
            detail: None,
            raw_detail: None,
        };
        if start.empty {
            return Ok(fault);
        }
        let local_part = |q: &str| q.trim().rsplit(':').next().unwrap_or("").to_owned();
        loop {
            let child = match reader.next()? {
                Item::End => return Ok(fault),
                Item::Text(_) => continue,
                Item::Start(s) => s,
            };
            match child.local {
                "faultcode" => fault.code = local_part(&reader.text(&child)?),
                "faultstring" => fault.reason = reader.text(&child)?.trim().to_owned(),
                // <Value>, then an optional <Subcode><Value>.
                "Code" => self.code(reader, &child, &mut fault, 0)?,
                "Reason" => {
                    let mut first = true;
                    loop {
                        match reader.next()? {
                            Item::End => break,
                            Item::Start(t) => {
                                let text = reader.text(&t)?;
                                if first {
                                    fault.reason = text.trim().to_owned();
                                    first = false;
                                }
                            }
                            Item::Text(_) => {}
                        }
                    }
                }
                "detail" | "Detail" => self.detail(reader, &child, &mut fault, faults)?,
                _ => reader.skip(&child)?,
            }
        }
    }

    fn code<'a>(
        &self,
        reader: &mut Reader<'a>,
        start: &Start<'a>,
        fault: &mut Fault,
        level: usize,
    ) -> Result<(), XmlError> {
        if start.empty {
            return Ok(());
        }
        loop {
            match reader.next()? {
                Item::End => return Ok(()),
                Item::Text(_) => {}
                Item::Start(s) if s.local == "Value" => {
                    let text = reader.text(&s)?;
                    let local = text.trim().rsplit(':').next().unwrap_or("").to_owned();
                    if level == 0 {
                        fault.code = local;
                    } else if fault.subcode.is_none() {
                        fault.subcode = Some(local);
                    }
                }
                Item::Start(s) if s.local == "Subcode" => {
                    self.code(reader, &s, fault, level + 1)?
                }
                Item::Start(s) => reader.skip(&s)?,
            }
        }
    }

    fn detail<'a>(
        &self,
        reader: &mut Reader<'a>,
        start: &Start<'a>,
        fault: &mut Fault,
        faults: &[(QName, String)],
    ) -> Result<(), XmlError> {
        if start.empty {
            return Ok(());
        }
        let mut raw = String::new();
        loop {
            match reader.next()? {
                Item::End => break,
                Item::Text(t) => {
                    if !t.trim().is_empty() {
                        raw.push_str(&quick_xml::escape::escape(t.trim()));
                    }
                }
                Item::Start(child) => {
                    let known = faults.iter().find(|(element, _)| {
                        &*element.local == child.local
                            && (element.ns == child.ns || element.ns.is_empty())
                    });
                    match known {
                        Some((_, message)) if fault.detail.is_none() => {
                            let mut wire = Vec::new();
                            self.content(
                                reader,
                                &child,
                                self.xml(message)?,
                                &[Role::Element],
                                &mut wire,
                            )?;
                            fault.detail = Some((message.clone(), wire));
                        }
                        _ => raw.push_str(&reader.raw(child, true)?),
                    }
                }
            }
        }
        if !raw.is_empty() {
            fault.raw_detail = Some(raw);
        }
        Ok(())
    }
}
