//! XSD schema documents read into the model: elements, types, groups and attribute groups.

use super::*;

fn xsd_children<'a, 'i>(node: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children()
        .filter(|n| n.is_element() && n.tag_name().namespace().is_some_and(is_xsd))
}

fn occurs(node: Node, name: &str, file: &Arc<str>) -> Result<u32, Problem> {
    match node.attribute(name) {
        None => Ok(1),
        Some("unbounded") => Ok(UNBOUNDED),
        Some(v) => v.trim().parse().map_err(|_| {
            Problem::new(
                pos_of(file, node),
                format!("`{name}=\"{v}\"` is not a number or `unbounded`"),
            )
        }),
    }
}

impl SchemaContext {
    pub(crate) fn new(file: Arc<str>, schema: Node, chameleon: Option<Arc<str>>) -> Self {
        let own = schema.attribute("targetNamespace").unwrap_or("");
        let target: Arc<str> = match (&chameleon, own) {
            (Some(tns), "") => tns.clone(),
            _ => own.into(),
        };
        SchemaContext {
            no_prefix: if own.is_empty() {
                target.clone()
            } else {
                "".into()
            },
            file,
            target,
            elements_qualified: schema.attribute("elementFormDefault") == Some("qualified"),
            attributes_qualified: schema.attribute("attributeFormDefault") == Some("qualified"),
        }
    }

    fn pos(&self, node: Node) -> Pos {
        pos_of(&self.file, node)
    }

    fn qname(&self, node: Node, value: &str) -> Result<QName, Problem> {
        resolve_qname(node, value, &self.no_prefix, &self.file)
    }

    fn global(&self, node: Node) -> Result<QName, Problem> {
        let name = node.attribute("name").ok_or_else(|| {
            Problem::new(self.pos(node), "a global declaration needs a `name`".into())
        })?;
        Ok(QName::new(&self.target, name))
    }

    fn unsupported(&self, node: Node) -> Problem {
        Problem::new(
            self.pos(node),
            format!(
                "XSD construct `{}` is not supported here",
                node.tag_name().name()
            ),
        )
    }

    /// Reads the top level of `<xsd:schema>`. A global component that cannot be read is left
    /// out with a warning (the operations that need it are left out in turn).
    pub(crate) fn schema(
        &self,
        schema: Node,
        out: &mut Schemas,
        warnings: &mut Vec<Problem>,
    ) -> SchemaRefs {
        let mut refs = SchemaRefs {
            imports: Vec::new(),
            includes: Vec::new(),
        };
        for child in xsd_children(schema) {
            if let Err(Problem { at: pos, message }) = self.component(child, out, &mut refs) {
                let what = child
                    .attribute("name")
                    .map(|n| format!(" `{n}`"))
                    .unwrap_or_default();
                warnings.push(Problem::new(
                    pos,
                    format!(
                        "{message}; the {}{what} is left out",
                        child.tag_name().name()
                    ),
                ));
            }
        }
        refs
    }

    fn component(
        &self,
        child: Node,
        out: &mut Schemas,
        refs: &mut SchemaRefs,
    ) -> Result<(), Problem> {
        {
            match child.tag_name().name() {
                "import" => {
                    if let Some(location) = child.attribute("schemaLocation") {
                        refs.imports.push((location.to_owned(), self.pos(child)));
                    }
                }
                "include" => {
                    if let Some(location) = child.attribute("schemaLocation") {
                        refs.includes.push((location.to_owned(), self.pos(child)));
                    }
                }
                "element" => {
                    let decl = self.element_decl(child, true)?;
                    out.elements.insert(decl.name.clone(), Arc::new(decl));
                }
                "complexType" => {
                    let name = self.global(child)?;
                    let ty = self.complex_type(child, Some(name.clone()))?;
                    out.types.insert(name, Arc::new(TypeDef::Complex(ty)));
                }
                "simpleType" => {
                    let name = self.global(child)?;
                    let ty = self.simple_type(child, Some(name.clone()))?;
                    out.types.insert(name, Arc::new(TypeDef::Simple(ty)));
                }
                "group" => {
                    let name = self.global(child)?;
                    let particle = self.group_content(child)?;
                    out.groups.insert(name, Arc::new(Group { particle }));
                }
                "attributeGroup" => {
                    let name = self.global(child)?;
                    let (attributes, any_attribute) = self.attributes(child)?;
                    out.attribute_groups.insert(
                        name,
                        Arc::new(AttributeGroup {
                            attributes,
                            any_attribute,
                        }),
                    );
                }
                "attribute" => {
                    let decl = self.attribute_decl(child, true)?;
                    out.attributes.insert(decl.name.clone(), Arc::new(decl));
                }
                "annotation" | "notation" => {}
                _ => return Err(self.unsupported(child)),
            }
        }
        Ok(())
    }

    fn element_decl(&self, node: Node, global: bool) -> Result<ElementDecl, Problem> {
        let name = node.attribute("name").ok_or_else(|| {
            Problem::new(
                self.pos(node),
                "an element needs a `name` or a `ref`".into(),
            )
        })?;
        let qualified = global
            || match node.attribute("form") {
                Some(form) => form == "qualified",
                None => self.elements_qualified,
            };
        let ns: &str = if qualified { &self.target } else { "" };
        let mut ty = match node.attribute("type") {
            Some(t) => Some(TypeRef::Named(self.qname(node, t)?)),
            None => None,
        };
        for child in xsd_children(node) {
            match child.tag_name().name() {
                "complexType" => {
                    ty = Some(TypeRef::Anonymous(Arc::new(TypeDef::Complex(
                        self.complex_type(child, None)?,
                    ))))
                }
                "simpleType" => {
                    ty = Some(TypeRef::Anonymous(Arc::new(TypeDef::Simple(
                        self.simple_type(child, None)?,
                    ))))
                }
                // Identity constraints constrain documents, not their shape.
                "annotation" | "unique" | "key" | "keyref" => {}
                _ => return Err(self.unsupported(child)),
            }
        }
        Ok(ElementDecl {
            name: QName::new(ns, name),
            ty,
            nillable: node.attribute("nillable") == Some("true"),
            is_abstract: node.attribute("abstract") == Some("true"),
            doc: documentation(node),
            pos: self.pos(node),
        })
    }

    fn particle(&self, node: Node) -> Result<Option<Particle>, Problem> {
        let file = &self.file;
        let min = occurs(node, "minOccurs", file)?;
        let max = occurs(node, "maxOccurs", file)?;
        let term = match node.tag_name().name() {
            "element" => match node.attribute("ref") {
                Some(r) => Term::ElementRef(self.qname(node, r)?),
                None => Term::Element(Arc::new(self.element_decl(node, false)?)),
            },
            "sequence" | "choice" | "all" => {
                let mut items = Vec::new();
                for child in xsd_children(node) {
                    if let Some(p) = self.particle(child)? {
                        items.push(p);
                    }
                }
                match node.tag_name().name() {
                    "sequence" => Term::Sequence(items),
                    "choice" => Term::Choice(items),
                    _ => Term::All(items),
                }
            }
            "group" => {
                let r = node.attribute("ref").ok_or_else(|| {
                    Problem::new(self.pos(node), "a local group needs a `ref`".to_owned())
                })?;
                Term::GroupRef(self.qname(node, r)?)
            }
            "any" => Term::Any,
            "annotation" => return Ok(None),
            _ => return Err(self.unsupported(node)),
        };
        if max == 0 {
            return Ok(None);
        }
        Ok(Some(Particle {
            min,
            max,
            term,
            pos: self.pos(node),
        }))
    }

    fn group_content(&self, node: Node) -> Result<Option<Particle>, Problem> {
        for child in xsd_children(node) {
            if child.tag_name().name() != "annotation" {
                return self.particle(child);
            }
        }
        Ok(None)
    }

    fn attribute_decl(&self, node: Node, global: bool) -> Result<AttributeDecl, Problem> {
        let name = node.attribute("name").ok_or_else(|| {
            Problem::new(
                self.pos(node),
                "an attribute needs a `name` or a `ref`".into(),
            )
        })?;
        let qualified = global
            || match node.attribute("form") {
                Some(form) => form == "qualified",
                None => self.attributes_qualified,
            };
        let mut ty = match node.attribute("type") {
            Some(t) => Some(TypeRef::Named(self.qname(node, t)?)),
            None => None,
        };
        for child in xsd_children(node) {
            match child.tag_name().name() {
                "simpleType" => {
                    ty = Some(TypeRef::Anonymous(Arc::new(TypeDef::Simple(
                        self.simple_type(child, None)?,
                    ))))
                }
                "annotation" => {}
                _ => return Err(self.unsupported(child)),
            }
        }
        Ok(AttributeDecl {
            name: QName::new(if qualified { &self.target } else { "" }, name),
            ty,
            pos: self.pos(node),
        })
    }

    /// The attribute uses among `node`'s children, and whether `anyAttribute` is one of them.
    fn attributes(&self, node: Node) -> Result<(Vec<AttributeUse>, bool), Problem> {
        let mut uses = Vec::new();
        let mut any = false;
        for child in xsd_children(node) {
            match child.tag_name().name() {
                "attribute" => {
                    let required = child.attribute("use") == Some("required");
                    if child.attribute("use") == Some("prohibited") {
                        let name = child.attribute("name").or(child.attribute("ref"));
                        let local = name.map(|n| n.rsplit(':').next().unwrap_or(n));
                        uses.push(AttributeUse::Prohibited(local.unwrap_or("").into()));
                    } else if let Some(r) = child.attribute("ref") {
                        uses.push(AttributeUse::Ref {
                            name: self.qname(child, r)?,
                            required,
                            pos: self.pos(child),
                        });
                    } else {
                        uses.push(AttributeUse::Decl {
                            decl: Arc::new(self.attribute_decl(child, false)?),
                            required,
                        });
                    }
                }
                "attributeGroup" => {
                    let r = child.attribute("ref").ok_or_else(|| {
                        Problem::new(
                            self.pos(child),
                            "a local attributeGroup needs a `ref`".to_owned(),
                        )
                    })?;
                    uses.push(AttributeUse::GroupRef(
                        self.qname(child, r)?,
                        self.pos(child),
                    ));
                }
                "anyAttribute" => any = true,
                _ => {}
            }
        }
        Ok((uses, any))
    }

    fn complex_type(&self, node: Node, name: Option<QName>) -> Result<ComplexType, Problem> {
        let mut ty = ComplexType {
            name,
            base: None,
            content: Content::Elements(None),
            attributes: Vec::new(),
            any_attribute: false,
            mixed: node.attribute("mixed") == Some("true"),
            is_abstract: node.attribute("abstract") == Some("true"),
            doc: documentation(node),
            pos: self.pos(node),
        };
        for child in xsd_children(node) {
            match child.tag_name().name() {
                "sequence" | "choice" | "all" | "group" => {
                    ty.content = Content::Elements(self.particle(child)?);
                }
                "simpleContent" | "complexContent" => {
                    let simple = child.tag_name().name() == "simpleContent";
                    if child.attribute("mixed") == Some("true") {
                        ty.mixed = true;
                    }
                    let derivation = xsd_children(child)
                        .find(|n| n.tag_name().name() != "annotation")
                        .ok_or_else(|| {
                            Problem::new(
                                self.pos(child),
                                "needs an `extension` or a `restriction`".to_owned(),
                            )
                        })?;
                    let how = match derivation.tag_name().name() {
                        "extension" => Derivation::Extension,
                        "restriction" => Derivation::Restriction,
                        _ => return Err(self.unsupported(derivation)),
                    };
                    let base = derivation.attribute("base").ok_or_else(|| {
                        Problem::new(self.pos(derivation), "needs a `base` type".to_owned())
                    })?;
                    ty.base = Some((self.qname(derivation, base)?, how));
                    ty.content = if simple {
                        Content::Simple(self.facets(derivation))
                    } else {
                        Content::Elements(self.group_content_except_attributes(derivation)?)
                    };
                    let (attributes, any) = self.attributes(derivation)?;
                    ty.attributes = attributes;
                    ty.any_attribute = any;
                }
                "attribute" | "attributeGroup" | "anyAttribute" | "annotation" => {}
                _ => return Err(self.unsupported(child)),
            }
        }
        if ty.base.is_none() {
            let (attributes, any) = self.attributes(node)?;
            ty.attributes = attributes;
            ty.any_attribute = any;
        }
        Ok(ty)
    }

    fn group_content_except_attributes(&self, node: Node) -> Result<Option<Particle>, Problem> {
        for child in xsd_children(node) {
            match child.tag_name().name() {
                "sequence" | "choice" | "all" | "group" => return self.particle(child),
                // Facets of a simple-content restriction, attributes: not particles.
                _ => {}
            }
        }
        Ok(None)
    }

    fn simple_type(&self, node: Node, name: Option<QName>) -> Result<SimpleType, Problem> {
        let pos = self.pos(node);
        for child in xsd_children(node) {
            let variety = match child.tag_name().name() {
                "restriction" => {
                    let base = match child.attribute("base") {
                        Some(b) => TypeRef::Named(self.qname(child, b)?),
                        None => self.inline_simple(child)?,
                    };
                    SimpleVariety::Restriction(base)
                }
                "list" => SimpleVariety::List(match child.attribute("itemType") {
                    Some(t) => TypeRef::Named(self.qname(child, t)?),
                    None => self.inline_simple(child)?,
                }),
                "union" => SimpleVariety::Union,
                "annotation" => continue,
                _ => return Err(self.unsupported(child)),
            };
            return Ok(SimpleType {
                name,
                variety,
                facets: self.facets(child),
                pos,
            });
        }
        Err(Problem::new(
            pos,
            "a simpleType needs a restriction, list or union".into(),
        ))
    }

    fn inline_simple(&self, node: Node) -> Result<TypeRef, Problem> {
        let inner = xsd_children(node)
            .find(|n| n.tag_name().name() == "simpleType")
            .ok_or_else(|| Problem::new(self.pos(node), "needs a base type".to_owned()))?;
        Ok(TypeRef::Anonymous(Arc::new(TypeDef::Simple(
            self.simple_type(inner, None)?,
        ))))
    }

    fn facets(&self, node: Node) -> Facets {
        let mut facets = Facets::default();
        for child in xsd_children(node) {
            let value = child.attribute("value").unwrap_or("").to_owned();
            let number = || value.trim().parse::<usize>().ok();
            match child.tag_name().name() {
                "enumeration" => facets.enumeration.push(value),
                "length" => {
                    facets.min_length = number();
                    facets.max_length = number();
                }
                "minLength" => facets.min_length = number(),
                "maxLength" => facets.max_length = number(),
                "pattern" => facets.pattern.push(value),
                "minInclusive" => facets.min_inclusive = Some(value),
                "maxInclusive" => facets.max_inclusive = Some(value),
                "minExclusive" => facets.min_exclusive = Some(value),
                "maxExclusive" => facets.max_exclusive = Some(value),
                _ => {}
            }
        }
        facets
    }
}
