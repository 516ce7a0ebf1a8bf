//! The XSD half of the builder: element and type declarations turned into messages and
//! their XML facts, simple types into scalars with their facets.

use super::*;

impl<'l> Builder<'l> {
    pub(super) fn global_element(
        &self,
        name: &QName,
        at: &Pos,
    ) -> Result<Arc<ElementDecl>, Problem> {
        defined(&self.loaded.schemas.elements, name, "element", at)
    }

    fn named_type(&self, name: &QName, at: &Pos) -> Result<Arc<TypeDef>, Problem> {
        defined(&self.loaded.schemas.types, name, "type", at)
    }

    /// A built-in type named without the XSD namespace (`type="string"` under a default
    /// namespace that is not XSD's), which no schema defines.
    fn builtin_by_mistake(&self, q: &QName) -> bool {
        lookup(&self.loaded.schemas.types, q).is_none() && builtin(&q.local).is_some()
    }

    /// The complex type of a declaration, if it has one.
    pub(super) fn complex_of(
        &self,
        ty: Option<&TypeRef>,
        at: &Pos,
    ) -> Result<Option<(TypeKey, Arc<TypeDef>)>, Problem> {
        let (key, def) = match ty {
            None => return Ok(None),
            Some(TypeRef::Named(q)) if q.ns.as_ref() == XSD || q.ns.as_ref() == SOAP_ENCODING => {
                return Ok(None)
            }
            Some(TypeRef::Named(q)) if self.builtin_by_mistake(q) => return Ok(None),
            Some(TypeRef::Named(q)) => (TypeKey::Named(q.clone()), self.named_type(q, at)?),
            Some(TypeRef::Anonymous(def)) => {
                (TypeKey::Anonymous(Arc::as_ptr(def) as usize), def.clone())
            }
        };
        Ok(matches!(&*def, TypeDef::Complex(_)).then_some((key, def)))
    }

    // --- messages ---

    pub(super) fn complex_message(
        &mut self,
        key: TypeKey,
        def: &TypeDef,
        hint: &str,
    ) -> Result<String, Problem> {
        if let Some(name) = self.types.get(&key) {
            return Ok(name.clone());
        }
        let TypeDef::Complex(ct) = def else {
            unreachable!("complex_message is called with complex types")
        };
        let name = self.message_name(ct.name.as_ref().map_or(hint, |q| &q.local));
        self.types.insert(key.clone(), name.clone());
        self.journal.push(Undo::Type(key));
        let mut fields = Fields::default();
        self.content(def, &mut fields, 0)?;
        self.finish(&name, fields, MessageKind::Plain);
        if let Some(docs) = self.docs.get_mut(&name) {
            docs.0 = ct.doc.clone();
        }
        Ok(name)
    }

    /// The fields of a complex type, its base types' first.
    pub(super) fn content(
        &mut self,
        def: &TypeDef,
        out: &mut Fields,
        depth: usize,
    ) -> Result<(), Problem> {
        let TypeDef::Complex(ct) = def else {
            unreachable!("content is asked of complex types")
        };
        if depth > 64 {
            return Err(Problem::new(
                ct.pos.clone(),
                "the type derives from itself".into(),
            ));
        }
        match &ct.base {
            None => {
                if ct.mixed {
                    out.text =
                        Some(self.text_field(Value::Simple(string_info("string"), Type::String)));
                }
                self.attributes(&ct.attributes, out)?;
                if let Content::Elements(Some(p)) = &ct.content {
                    self.particle(p, false, None, out)?;
                }
            }
            Some((base, how)) => {
                let base_is_simple = base.ns.as_ref() == XSD
                    || matches!(self.named_type(base, &ct.pos)?.as_ref(), TypeDef::Simple(_));
                if base_is_simple {
                    let value = self.simple_value(&TypeRef::Named(base.clone()), &ct.pos)?;
                    out.text = Some(self.text_field(value));
                } else {
                    let base_def = self.named_type(base, &ct.pos)?;
                    match (how, &ct.content) {
                        (Derivation::Restriction, Content::Elements(_)) => {
                            // A restriction restates its particles; only attributes carry over.
                            let mut inherited = Fields::default();
                            self.content(&base_def, &mut inherited, depth + 1)?;
                            out.attributes = inherited.attributes;
                            out.text = inherited.text;
                        }
                        _ => self.content(&base_def, out, depth + 1)?,
                    }
                    // A restriction of simple content narrows the inherited text's facets.
                    let text = out.text.as_mut().map(|t| &mut t.value);
                    if let (Content::Simple(facets), Some(XmlValue::Simple(info))) =
                        (&ct.content, text)
                    {
                        merge_facets(Arc::make_mut(info), facets);
                    }
                }
                for attribute in &ct.attributes {
                    if let AttributeUse::Prohibited(local) = attribute {
                        out.attributes.retain(|f| &f.name != local);
                    }
                }
                self.attributes(&ct.attributes, out)?;
                if let Content::Elements(Some(p)) = &ct.content {
                    self.particle(p, false, None, out)?;
                }
                if ct.mixed && out.text.is_none() {
                    out.text =
                        Some(self.text_field(Value::Simple(string_info("string"), Type::String)));
                }
            }
        }
        Ok(())
    }

    fn text_field(&self, value: Value) -> FieldSpec {
        FieldSpec::simple("$value".into(), "".into(), Role::Text, value)
    }

    fn attributes(&mut self, uses: &[AttributeUse], out: &mut Fields) -> Result<(), Problem> {
        for attribute in uses {
            let decl = match attribute {
                AttributeUse::Decl { decl, .. } => decl.clone(),
                AttributeUse::Ref { name, pos, .. } => {
                    if name.ns.as_ref() == "http://www.w3.org/XML/1998/namespace" {
                        Arc::new(AttributeDecl {
                            name: name.clone(),
                            ty: None,
                            pos: pos.clone(),
                        })
                    } else {
                        defined(&self.loaded.schemas.attributes, name, "attribute", pos)?
                    }
                }
                AttributeUse::GroupRef(name, pos) => {
                    let group = defined(
                        &self.loaded.schemas.attribute_groups,
                        name,
                        "attributeGroup",
                        pos,
                    )?;
                    self.attributes(&group.attributes, out)?;
                    continue;
                }
                AttributeUse::Prohibited(_) => continue,
            };
            let value = match &decl.ty {
                Some(ty) => self.simple_value(ty, &decl.pos)?,
                None => Value::Simple(string_info("anySimpleType"), Type::String),
            };
            // A restriction or extension may restate an inherited attribute.
            out.attributes.retain(|f| f.name != decl.name.local);
            out.attributes.push(FieldSpec::simple(
                decl.name.local.clone(),
                decl.name.ns.clone(),
                Role::Attribute,
                value,
            ));
        }
        Ok(())
    }

    /// The fields of a particle. `repeated`: an enclosing particle repeats; `oneof`: the
    /// particle is a member of a choice.
    fn particle(
        &mut self,
        particle: &Particle,
        repeated: bool,
        oneof: Option<i32>,
        out: &mut Fields,
    ) -> Result<(), Problem> {
        let repeated = repeated || particle.max > 1;
        match &particle.term {
            Term::Element(decl) => self.element(decl, repeated, oneof, Role::Element, out),
            Term::ElementRef(name) => {
                let decl = self.global_element(name, &particle.pos)?;
                if decl.is_abstract {
                    return Err(Problem::new(
                        particle.pos.clone(),
                        format!(
                            "element `{name}` is abstract (substitution groups are not supported)"
                        ),
                    ));
                }
                self.element(&decl, repeated, oneof, Role::Element, out)
            }
            Term::Sequence(items) | Term::All(items) => {
                for item in items {
                    self.particle(item, repeated, None, out)?;
                }
                Ok(())
            }
            Term::Choice(items) => {
                let oneof = if repeated || items.len() < 2 {
                    None
                } else {
                    out.oneofs.push(format!("choice{}", out.oneofs.len() + 1));
                    Some(out.oneofs.len() as i32 - 1)
                };
                for item in items {
                    let singular = item.max <= 1
                        && matches!(
                            item.term,
                            Term::Element(_) | Term::ElementRef(_) | Term::Any
                        );
                    self.particle(item, repeated, oneof.filter(|_| singular), out)?;
                }
                Ok(())
            }
            Term::GroupRef(name) => {
                let group = defined(&self.loaded.schemas.groups, name, "group", &particle.pos)?;
                match &group.particle {
                    Some(inner) => self.particle(inner, repeated, oneof, out),
                    None => Ok(()),
                }
            }
            Term::Any => {
                out.elements.push(FieldSpec {
                    name: "any".into(),
                    ns: "".into(),
                    role: Role::Any,
                    value: XmlValue::Raw,
                    proto: ProtoType::Scalar(Type::String),
                    inner: None,
                    repeated,
                    nillable: false,
                    oneof,
                    xsi_type: None,
                    doc: None,
                });
                Ok(())
            }
        }
    }

    pub(super) fn element(
        &mut self,
        decl: &ElementDecl,
        repeated: bool,
        oneof: Option<i32>,
        role: Role,
        out: &mut Fields,
    ) -> Result<(), Problem> {
        let value = match &decl.ty {
            None => Value::Raw,
            Some(ty) => self.value(ty, &decl.name.local, &decl.pos)?,
        };
        let list = matches!(&value, Value::Simple(s, _) if s.list);
        let (value, mut proto) = split(value);
        // A list held in one element cannot also repeat, nor be nil: it stays text then.
        let (value, nillable) = if list && (repeated || decl.nillable) {
            proto = ProtoType::Scalar(Type::String);
            (XmlValue::Simple(string_info("string")), decl.nillable)
        } else {
            (value, decl.nillable)
        };
        let mut inner = None;
        if nillable {
            let stand_in = ProtoType::Message(self.nillable(&proto));
            inner = Some(std::mem::replace(&mut proto, stand_in));
        }
        out.elements.push(FieldSpec {
            name: decl.name.local.clone(),
            ns: decl.name.ns.clone(),
            role,
            value,
            proto,
            inner,
            repeated: repeated || (list && !nillable),
            nillable,
            oneof,
            xsi_type: None,
            doc: decl.doc.clone(),
        });
        Ok(())
    }

    /// The value type of a declaration: a simple type, or a complex type's message (a
    /// polymorphic one when types derive from it).
    fn value(&mut self, ty: &TypeRef, hint: &str, at: &Pos) -> Result<Value, Problem> {
        if let TypeRef::Named(q) = ty {
            if q.ns.as_ref() == XSD && &*q.local == "anyType" {
                return Ok(Value::Raw);
            }
        }
        match self.complex_of(Some(ty), at)? {
            None => self.simple_value(ty, at),
            Some((TypeKey::Named(q), def)) if self.derived.contains_key(&q) => {
                Ok(Value::Complex(self.polymorphic(&q, &def, at)?))
            }
            Some((key, def)) => Ok(Value::Complex(self.complex_message(key, &def, hint)?)),
        }
    }

    /// For a type with derived types: a message with one member per concrete type.
    fn polymorphic(&mut self, base: &QName, def: &TypeDef, at: &Pos) -> Result<String, Problem> {
        if let Some(name) = self.polymorphic.get(base) {
            return Ok(name.clone());
        }
        let name = self.message_name(&format!("{}OrDerived", base.local));
        self.polymorphic.insert(base.clone(), name.clone());
        self.journal.push(Undo::Polymorphic(base.clone()));
        let mut concrete = Vec::new();
        let mut queue = vec![base.clone()];
        let mut seen = HashSet::new();
        while let Some(q) = queue.pop() {
            if !seen.insert(q.clone()) {
                continue;
            }
            concrete.push(q.clone());
            if let Some(children) = self.derived.get(&q) {
                queue.extend(children.iter().rev().cloned());
            }
        }
        let mut fields = Fields {
            oneofs: vec!["type".into()],
            ..Default::default()
        };
        for q in concrete {
            let def_q = if &q == base {
                None
            } else {
                Some(self.named_type(&q, at)?)
            };
            let def = def_q.as_deref().unwrap_or(def);
            let TypeDef::Complex(ct) = def else { continue };
            if ct.is_abstract {
                continue;
            }
            let message = self.complex_message(TypeKey::Named(q.clone()), def, &q.local)?;
            fields.elements.push(FieldSpec {
                name: q.local.clone(),
                ns: q.ns.clone(),
                role: Role::Element,
                value: XmlValue::Complex,
                proto: ProtoType::Message(message),
                inner: None,
                repeated: false,
                nillable: false,
                oneof: Some(0),
                xsi_type: (&q != base).then(|| q.clone()),
                doc: None,
            });
        }
        self.finish(&name, fields, MessageKind::Polymorphic);
        Ok(name)
    }

    fn simple_value(&mut self, ty: &TypeRef, at: &Pos) -> Result<Value, Problem> {
        let info = self.simple_info(ty, at, 0)?;
        let proto = proto_of(&info);
        Ok(Value::Simple(Arc::new(info), proto))
    }

    fn simple_info(&self, ty: &TypeRef, at: &Pos, depth: usize) -> Result<SimpleInfo, Problem> {
        if depth > 64 {
            return Err(Problem::new(
                at.clone(),
                "the simple type derives from itself".into(),
            ));
        }
        let def = match ty {
            TypeRef::Named(q)
                if q.ns.as_ref() == XSD
                    || q.ns.as_ref() == SOAP_ENCODING
                    || self.builtin_by_mistake(q) =>
            {
                return builtin(&q.local).ok_or_else(|| {
                    Problem::new(
                        at.clone(),
                        format!("`{}` is not an XSD built-in type", q.local),
                    )
                });
            }
            TypeRef::Named(q) => self.named_type(q, at)?,
            TypeRef::Anonymous(def) => def.clone(),
        };
        match &*def {
            TypeDef::Complex(ct) => match (&ct.content, &ct.base) {
                (Content::Simple(facets), Some((base, _))) => {
                    let mut info =
                        self.simple_info(&TypeRef::Named(base.clone()), at, depth + 1)?;
                    merge_facets(&mut info, facets);
                    Ok(info)
                }
                _ => Err(Problem::new(
                    at.clone(),
                    "a complex type is used where a simple type is needed".into(),
                )),
            },
            TypeDef::Simple(st) => match &st.variety {
                SimpleVariety::Restriction(base) => {
                    let mut info = self.simple_info(base, &st.pos, depth + 1)?;
                    merge_facets(&mut info, &st.facets);
                    Ok(info)
                }
                SimpleVariety::List(item) => {
                    let mut info = self.simple_info(item, &st.pos, depth + 1)?;
                    if info.list {
                        return Err(Problem::new(
                            st.pos.clone(),
                            "a list of lists is not valid XSD".into(),
                        ));
                    }
                    info.list = true;
                    merge_facets(&mut info, &st.facets);
                    Ok(info)
                }
                SimpleVariety::Union => Ok(SimpleInfo {
                    builtin: "string".into(),
                    ..Default::default()
                }),
            },
        }
    }

    /// The stand-in for a nillable element of `proto`.
    fn nillable(&mut self, proto: &ProtoType) -> String {
        let (key, hint, field_proto) = match proto {
            ProtoType::Scalar(t) => (format!("{t:?}"), format!("{NILLABLE}{t:?}"), proto.clone()),
            ProtoType::Message(m) => (m.clone(), format!("{NILLABLE}{m}"), proto.clone()),
        };
        if let Some(name) = self.nillables.get(&key) {
            return name.clone();
        }
        let name = self.names.claim(&sanitize(&hint));
        self.journal.push(Undo::Name(name.clone()));
        self.nillables.insert(key.clone(), name.clone());
        self.journal.push(Undo::Nillable(key));
        let mut fields = Fields::default();
        fields.elements.push(FieldSpec {
            name: "value".into(),
            ns: "".into(),
            role: Role::Text,
            value: XmlValue::Complex,
            proto: field_proto,
            inner: None,
            repeated: false,
            nillable: false,
            oneof: None,
            xsi_type: None,
            doc: None,
        });
        self.finish(&name, fields, MessageKind::Nillable);
        name
    }

    /// Numbers the fields, names them, and adds the message and its XML facts.
    pub(super) fn finish(&mut self, name: &str, fields: Fields, kind: MessageKind) {
        let Fields {
            attributes,
            elements,
            text,
            oneofs,
        } = fields;
        let element_names: HashSet<Arc<str>> = elements.iter().map(|f| f.name.clone()).collect();
        let mut proto_names = Names::default();
        let mut json_names = Names::default();
        let mut descriptor = DescriptorProto {
            name: Some(name.to_owned()),
            oneof_decl: oneofs
                .iter()
                .map(|n| OneofDescriptorProto {
                    name: Some(proto_names.claim(n)),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let mut xml_fields = Vec::new();
        let mut field_docs = Vec::new();
        let all = attributes.into_iter().chain(elements).chain(text);
        for (i, spec) in all.enumerate() {
            let number = i as u32 + 1;
            let json = match spec.role {
                Role::Attribute if element_names.contains(&spec.name) => format!("@{}", spec.name),
                _ => spec.name.to_string(),
            };
            let json = json_names.claim(&json);
            let proto_name = proto_names.claim(&sanitize(match spec.role {
                Role::Text if kind != MessageKind::Nillable => "value_",
                _ => &spec.name,
            }));
            let (r#type, type_name) = match &spec.proto {
                ProtoType::Scalar(t) => (*t, None),
                ProtoType::Message(m) => (Type::Message, Some(format!(".{}.{m}", self.package))),
            };
            let optional = !spec.repeated && spec.oneof.is_none() && r#type != Type::Message;
            descriptor.field.push(FieldDescriptorProto {
                name: Some(proto_name.clone()),
                number: Some(number as i32),
                label: Some(if spec.repeated {
                    Label::Repeated
                } else {
                    Label::Optional
                } as i32),
                r#type: Some(r#type as i32),
                type_name,
                json_name: Some(json),
                oneof_index: spec.oneof,
                proto3_optional: optional.then_some(true),
                ..Default::default()
            });
            let wire = match spec.inner.as_ref().unwrap_or(&spec.proto) {
                ProtoType::Scalar(t) => WireKind::Scalar(*t),
                ProtoType::Message(m) => WireKind::Message(format!("{}.{m}", self.package)),
            };
            field_docs.push(spec.doc);
            xml_fields.push(XmlField {
                number,
                wire,
                tag: String::new(),
                name: spec.name,
                ns: spec.ns,
                role: spec.role,
                value: spec.value,
                repeated: spec.repeated,
                nillable: spec.nillable,
                xsi_type: spec.xsi_type,
            });
        }
        // proto3 `optional` fields each get a synthetic oneof, after the real ones.
        for field in &mut descriptor.field {
            if field.proto3_optional == Some(true) {
                field.oneof_index = Some(descriptor.oneof_decl.len() as i32);
                let synthetic = proto_names.claim(&format!("_{}", field.name()));
                descriptor.oneof_decl.push(OneofDescriptorProto {
                    name: Some(synthetic),
                    ..Default::default()
                });
            }
        }
        self.messages.push(descriptor);
        self.docs.insert(name.to_owned(), (None, field_docs));
        self.journal
            .push(Undo::Xml(format!("{}.{name}", self.package)));
        self.xml.messages.insert(
            format!("{}.{name}", self.package),
            Arc::new(XmlMessage {
                kind,
                fields: xml_fields,
            }),
        );
    }
}

/// A global component by name (see `lookup`), or the problem that it is not defined.
fn defined<V: Clone>(
    map: &HashMap<QName, V>,
    name: &QName,
    what: &str,
    at: &Pos,
) -> Result<V, Problem> {
    lookup(map, name)
        .cloned()
        .ok_or_else(|| Problem::new(at.clone(), format!("{what} `{name}` is not defined")))
}

pub(super) fn split(value: Value) -> (XmlValue, ProtoType) {
    match value {
        Value::Simple(info, t) => (XmlValue::Simple(info), ProtoType::Scalar(t)),
        Value::Complex(m) => (XmlValue::Complex, ProtoType::Message(m)),
        Value::Raw => (XmlValue::Raw, ProtoType::Scalar(Type::String)),
    }
}

fn string_info(builtin: &str) -> Arc<SimpleInfo> {
    Arc::new(SimpleInfo {
        builtin: builtin.into(),
        ..Default::default()
    })
}

fn merge_facets(info: &mut SimpleInfo, facets: &Facets) {
    if !facets.enumeration.is_empty() {
        info.facets.enumeration = facets.enumeration.clone();
    }
    let f = &mut info.facets;
    f.min_length = facets.min_length.or(f.min_length);
    f.max_length = facets.max_length.or(f.max_length);
    f.pattern.extend(facets.pattern.iter().cloned());
    // XSD patterns are anchored; the few XSD-only escapes (`\i`, `\c`, class subtraction)
    // do not compile and are left unchecked.
    info.patterns.extend(
        facets
            .pattern
            .iter()
            .filter_map(|p| crate::pattern::Pattern::new(p).ok()),
    );
    let f = &mut info.facets;
    f.min_inclusive = facets.min_inclusive.clone().or(f.min_inclusive.take());
    f.max_inclusive = facets.max_inclusive.clone().or(f.max_inclusive.take());
    f.min_exclusive = facets.min_exclusive.clone().or(f.min_exclusive.take());
    f.max_exclusive = facets.max_exclusive.clone().or(f.max_exclusive.take());
}

/// The protobuf type that holds a simple type (design.md section 5: decimal and the
/// unbounded integers stay text, so nothing is rounded).
fn proto_of(info: &SimpleInfo) -> Type {
    match &*info.builtin {
        "boolean" => Type::Bool,
        "float" => Type::Float,
        "double" => Type::Double,
        "long" => Type::Int64,
        "int" | "short" | "byte" => Type::Int32,
        "unsignedLong" => Type::Uint64,
        "unsignedInt" | "unsignedShort" | "unsignedByte" => Type::Uint32,
        "base64Binary" => Type::Bytes,
        _ => Type::String,
    }
}

/// Every XSD built-in type (XSD 1.0 and the 1.1 additions), by local name.
fn builtin(local: &str) -> Option<SimpleInfo> {
    let check = match local {
        "decimal" => Check::Decimal,
        "integer" => Check::Integer {
            min_sign: -1,
            max_sign: 1,
        },
        "nonNegativeInteger" => Check::Integer {
            min_sign: 0,
            max_sign: 1,
        },
        "positiveInteger" => Check::Integer {
            min_sign: 1,
            max_sign: 1,
        },
        "nonPositiveInteger" => Check::Integer {
            min_sign: -1,
            max_sign: 0,
        },
        "negativeInteger" => Check::Integer {
            min_sign: -1,
            max_sign: -1,
        },
        "short" => Check::Range(i16::MIN.into(), i16::MAX.into()),
        "byte" => Check::Range(i8::MIN.into(), i8::MAX.into()),
        "unsignedShort" => Check::Range(0, u16::MAX.into()),
        "unsignedByte" => Check::Range(0, u8::MAX.into()),
        "string" | "normalizedString" | "token" | "language" | "Name" | "NCName" | "ID"
        | "IDREF" | "ENTITY" | "NMTOKEN" | "QName" | "NOTATION" | "anyURI" | "boolean" | "long"
        | "int" | "unsignedLong" | "unsignedInt" | "float" | "double" | "duration" | "dateTime"
        | "dateTimeStamp" | "time" | "date" | "gYearMonth" | "gYear" | "gMonthDay" | "gDay"
        | "gMonth" | "hexBinary" | "base64Binary" | "anySimpleType" | "anyAtomicType"
        | "dayTimeDuration" | "yearMonthDuration" => Check::None,
        // Built-in list types.
        "IDREFS" | "ENTITIES" | "NMTOKENS" => {
            return Some(SimpleInfo {
                builtin: "string".into(),
                list: true,
                ..Default::default()
            })
        }
        _ => return None,
    };
    Some(SimpleInfo {
        builtin: local.into(),
        check,
        ..Default::default()
    })
}
