using System;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace HeaderFraming.AspNetCore.Internal;

/// <summary>Binds named options from a configuration section, turning what the binder or a setter throws (a value that does
/// not convert, one out of range) into an <see cref="OptionsValidationException"/> that names the section, so that a bad
/// value fails the start with a message that says where to look.</summary>
internal sealed class ConfigurationBinding<TOptions>(string name, IConfiguration section) : IConfigureNamedOptions<TOptions>
    where TOptions : class
{
    public void Configure(TOptions options) => Configure(Options.DefaultName, options);

    public void Configure(string? name1, TOptions options)
    {
        if (!string.Equals(name1, name, StringComparison.Ordinal))
        {
            return;
        }

        try
        {
            section.Bind(options);
        }
        catch (Exception ex) when (ex is InvalidOperationException or TargetInvocationException or ArgumentException or FormatException)
        {
            Exception cause = ex is TargetInvocationException { InnerException: Exception inner } ? inner : ex;
            string path = section is IConfigurationSection s ? s.Path : "(configuration)";
            throw new OptionsValidationException(name, typeof(TOptions), new[]
            {
                $"HeaderFraming endpoint '{name}': the configuration section '{path}' does not bind to {typeof(TOptions).Name}: {Messages(cause)}",
            });
        }
    }

    private static string Messages(Exception ex)
        => ex.InnerException is Exception inner && !ReferenceEquals(inner, ex) ? ex.Message + " " + Messages(inner) : ex.Message;
}
