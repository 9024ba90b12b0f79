using System.Text.Json;

namespace VisualSearch.Infra.Tests;

/// <summary>A compiled ARM template and read helpers that see through nested (module) deployments.</summary>
internal sealed class ArmTemplate
{
    public ArmTemplate(string json)
    {
        Json = json;
        Root = JsonDocument.Parse(json).RootElement.Clone();
    }

    public string Json { get; }

    public JsonElement Root { get; }

    /// <summary>The root template and every nested module template, depth first.</summary>
    public IEnumerable<Template> Templates() => Walk(new Template("main", Root));

    /// <summary>Resources of every template that the deployment creates (existing references left out).</summary>
    public IEnumerable<DeployedResource> DeployedResources() =>
        Templates().SelectMany(t => t.Resources().Where(r => !r.IsExisting));

    public IReadOnlyList<DeployedResource> OfType(string type) =>
        DeployedResources().Where(r => string.Equals(r.Type, type, StringComparison.OrdinalIgnoreCase)).ToList();

    /// <summary>The module deployment (Microsoft.Resources/deployments) named <paramref name="name"/> in the root template.</summary>
    public DeployedResource Module(string name) =>
        new Template("main", Root).Resources()
            .Single(r => r.Type == "Microsoft.Resources/deployments" && r.Element.GetProperty("name").GetString() == name);

    public Template ModuleTemplate(string name) =>
        new(name, Module(name).Element.GetProperty("properties").GetProperty("template"));

    private static IEnumerable<Template> Walk(Template template)
    {
        yield return template;
        foreach (var resource in template.Resources())
        {
            if (resource.Type == "Microsoft.Resources/deployments"
                && resource.Element.TryGetProperty("properties", out var properties)
                && properties.TryGetProperty("template", out var nested))
            {
                var name = resource.Element.GetProperty("name").GetString() ?? resource.Key;
                foreach (var inner in Walk(new Template(name, nested)))
                {
                    yield return inner;
                }
            }
        }
    }
}

internal sealed record Template(string Name, JsonElement Element)
{
    /// <summary>Resources, whether the template uses the array form or the symbolic-name (object) form.</summary>
    public IEnumerable<DeployedResource> Resources()
    {
        if (!Element.TryGetProperty("resources", out var resources))
        {
            yield break;
        }

        if (resources.ValueKind == JsonValueKind.Array)
        {
            var index = 0;
            foreach (var resource in resources.EnumerateArray())
            {
                yield return new DeployedResource($"{Name}[{index++}]", resource);
            }
        }
        else
        {
            foreach (var resource in resources.EnumerateObject())
            {
                yield return new DeployedResource(resource.Name, resource.Value);
            }
        }
    }

    public IEnumerable<JsonProperty> Section(string name) =>
        Element.TryGetProperty(name, out var section) && section.ValueKind == JsonValueKind.Object
            ? section.EnumerateObject()
            : [];

    public JsonElement Parameter(string name) => Element.GetProperty("parameters").GetProperty(name);

    public JsonElement Variable(string name) => Element.GetProperty("variables").GetProperty(name);
}

internal sealed record DeployedResource(string Key, JsonElement Element)
{
    public string Type => Element.GetProperty("type").GetString() ?? string.Empty;

    public bool IsExisting => Element.TryGetProperty("existing", out var existing) && existing.ValueKind == JsonValueKind.True;

    public JsonElement Properties => Element.GetProperty("properties");

    public string Text => Element.GetRawText();
}
