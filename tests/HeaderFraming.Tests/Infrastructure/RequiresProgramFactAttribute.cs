namespace HeaderFraming.Tests.Infrastructure;

/// <summary>A fact that is skipped, saying why, only when the server program it needs is not installed.</summary>
public sealed class RequiresProgramFactAttribute : FactAttribute
{
    public RequiresProgramFactAttribute(string program, string debianPackage)
    {
        Program = program;
        if (ServerProcess.Find(program) == null)
        {
            Skip = $"{program} is not installed (apt-get install -y {debianPackage}; .ci/run installs it, so CI never skips this).";
        }
    }

    public string Program { get; }
}
